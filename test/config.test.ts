import { expect } from "chai";
import { ConfigValues, minimalConfig, recorded, runProgram } from "./mocks";

/** Runs the program with `overrides` on top of a valid config (undefined removes a key) and returns its error. */
async function configError(overrides: Record<string, string | string[] | undefined>): Promise<string> {
    const config: ConfigValues = { ...minimalConfig };
    for (const [key, value] of Object.entries(overrides)) {
        if (value === undefined) delete config[key];
        else config[key] = value;
    }
    try {
        await runProgram(config);
    } catch (error) {
        expect(recorded, "no resource may be created when the config is wrong").to.deep.equal([]);
        return (error as Error).message;
    }
    throw new Error("the program accepted the config");
}

function message(...problems: string[]): string {
    const count = problems.length === 1 ? "1 configuration problem" : `${problems.length} configuration problems`;
    return `Stack "dev" has ${count}; nothing was created.\n${problems.join("\n")}`;
}

const signerExample = "https://github.com/acme/microservices/.github/workflows/deploy.yml@refs/heads/main";
const givenImages = {
    tasksImage: `docker.io/acme/tasks@sha256:${"1".repeat(64)}`,
    requestsImage: `docker.io/acme/requests@sha256:${"2".repeat(64)}`,
};

const cases: { what: string; overrides: Record<string, string | string[] | undefined>; problem: string }[] = [
    {
        what: "a missing Docker Hub username",
        overrides: { dockerHubUsername: undefined },
        problem:
            "- `dockerHubUsername` is not set; it pushes the images this stack builds.\n" +
            "  Example: myname\n  Fix: pulumi config set dockerHubUsername myname",
    },
    {
        what: "an upper-case Docker Hub username",
        overrides: { dockerHubUsername: "OctoCat" },
        problem:
            '- `dockerHubUsername` is "OctoCat"; it must be lowercase letters and digits.\n' +
            "  Example: myname\n  Fix: pulumi config set dockerHubUsername myname",
    },
    {
        what: "a missing Docker Hub token",
        overrides: { dockerHubToken: undefined },
        problem:
            "- `dockerHubToken` is not set; it pushes the images this stack builds.\n" +
            "  Example: dckr_pat_…\n  Fix: pulumi config set --secret dockerHubToken",
    },
    {
        what: "a MongoDB URI with another scheme",
        overrides: { mongodbUri: "https://cluster0.example.mongodb.net/tasks" },
        problem:
            "- `mongodbUri` must start with mongodb:// or mongodb+srv://.\n" +
            "  Example: mongodb+srv://tasks:PASSWORD@cluster0.example.mongodb.net/tasks\n" +
            "  Fix: pulumi config set --secret mongodbUri",
    },
    {
        what: "a MongoDB URI without a host",
        overrides: { mongodbUri: "mongodb:///tasks" },
        problem:
            "- `mongodbUri` has no host after the scheme.\n" +
            "  Example: mongodb+srv://tasks:PASSWORD@cluster0.example.mongodb.net/tasks\n" +
            "  Fix: pulumi config set --secret mongodbUri",
    },
    {
        what: "a PostgreSQL URL with another scheme",
        overrides: { postgresUrl: "mysql://requests:pw@db.example.com/requests" },
        problem:
            "- `postgresUrl` must start with postgres:// or postgresql://.\n" +
            "  Example: postgresql://requests:PASSWORD@db.example.com:5432/requests\n" +
            "  Fix: pulumi config set --secret postgresUrl",
    },
    {
        what: "a Logsene token with whitespace",
        overrides: { logseneToken: "abc def" },
        problem:
            "- `logseneToken` contains whitespace.\n  Example: a1b2c3d4-e5f6-7890-abcd-ef1234567890\n" +
            "  Fix: pulumi config set --secret logseneToken",
    },
    {
        what: "a Papertrail destination without a port",
        overrides: { papertrailDestination: "logs3.papertrailapp.com" },
        problem:
            "- `papertrailDestination` must be host:port.\n  Example: logs3.papertrailapp.com:12345\n" +
            "  Fix: pulumi config set --secret papertrailDestination",
    },
    {
        what: "a Papertrail destination with an impossible port",
        overrides: { papertrailDestination: "logs3.papertrailapp.com:70000" },
        problem:
            "- `papertrailDestination` has a port outside 1-65535.\n  Example: logs3.papertrailapp.com:12345\n" +
            "  Fix: pulumi config set --secret papertrailDestination",
    },
    {
        what: "an unknown image platform",
        overrides: { imagePlatform: "linux/s390x" },
        problem:
            '- `imagePlatform` is "linux/s390x"; allowed values are linux/amd64, linux/arm64.\n' +
            "  Example: linux/amd64\n  Fix: pulumi config set imagePlatform linux/amd64",
    },
    {
        what: "a malformed instance type",
        overrides: { instanceType: "large" },
        problem:
            '- `instanceType` is "large"; it must be an EC2 instance type such as t3.micro.\n' +
            "  Example: t3.micro\n  Fix: pulumi config set instanceType t3.micro",
    },
    {
        what: "an arm64 instance type for an amd64 image",
        overrides: { tasksInstanceType: "t4g.small" },
        problem:
            '- `tasksInstanceType` is "t4g.small", an arm64 type, but `imagePlatform` is linux/amd64; ' +
            "pick an x86_64 type or change `imagePlatform`.\n" +
            "  Example: t3.small\n  Fix: pulumi config set tasksInstanceType t3.small",
    },
    {
        what: "a CIDR with host bits set",
        overrides: { ingressCidrs: ["10.1.2.3/16"] },
        problem:
            '- `ingressCidrs` holds "10.1.2.3/16": its host bits are set (the network is 10.1.0.0/16).\n' +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "an IPv6 prefix past 128",
        overrides: { ingressCidrs: ["2001:db8::/129"] },
        problem:
            '- `ingressCidrs` holds "2001:db8::/129": an IPv6 prefix stops at 128.\n' +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "an IPv4 documentation range, which reaches nobody",
        overrides: { ingressCidrs: ["203.0.113.0/24"] },
        problem:
            '- `ingressCidrs` holds "203.0.113.0/24": it lies in 203.0.113.0/24, a range reserved for documentation ' +
            "(RFC 5737) that reaches nobody; put the networks your clients use.\n" +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "a network inside an IPv4 documentation range",
        overrides: { ingressCidrs: ["198.51.100.128/25"] },
        problem:
            '- `ingressCidrs` holds "198.51.100.128/25": it lies in 198.51.100.0/24, a range reserved for documentation ' +
            "(RFC 5737) that reaches nobody; put the networks your clients use.\n" +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "the IPv6 documentation range",
        overrides: { ingressCidrs: ["2001:db8:1::/48"] },
        problem:
            '- `ingressCidrs` holds "2001:db8:1::/48": it lies in 2001:db8::/32, a range reserved for documentation ' +
            "(RFC 3849) that reaches nobody; put the networks your clients use.\n" +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "an image given by tag",
        overrides: { tasksImage: "docker.io/octocat/tasks:latest" },
        problem:
            '- `tasksImage` is "docker.io/octocat/tasks:latest"; it must be an image pinned by digest, ' +
            "registry/namespace/name@sha256:<digest>.\n" +
            "  Example: docker.io/myname/tasks@sha256:<64 hex digits>\n" +
            "  Fix: pulumi config set tasksImage docker.io/myname/tasks@sha256:<64 hex digits>",
    },
    {
        what: "no image signer: running unchecked images is a choice",
        overrides: { imageSigner: undefined },
        problem:
            "- `imageSigner` is not set; name who must have signed the images the hosts run, or none to run them " +
            "unchecked (a local trial).\n" +
            `  Example: ${signerExample}\n  Fix: pulumi config set imageSigner ${signerExample}`,
    },
    {
        what: "an image signer that is neither a workflow, a key nor none",
        overrides: { imageSigner: "octocat" },
        problem:
            "- `imageSigner` must be a GitHub workflow's URL " +
            "(https://github.com/OWNER/REPO/.github/workflows/FILE.yml@refs/heads/BRANCH), a PEM public key, or none.\n" +
            `  Example: ${signerExample}\n  Fix: pulumi config set imageSigner ${signerExample}`,
    },
    {
        what: "the docs' placeholder repository as the image signer",
        overrides: { ...givenImages, imageSigner: "https://github.com/OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main" },
        problem:
            "- `imageSigner` names OWNER/REPO, the placeholder; put your repository.\n" +
            `  Example: ${signerExample}\n  Fix: pulumi config set imageSigner ${signerExample}`,
    },
    {
        what: "a public key that does not parse",
        overrides: { ...givenImages, imageSigner: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----" },
        problem:
            "- `imageSigner` is not a public key that parses (PEM, as `cosign public-key` prints it).\n" +
            `  Example: ${signerExample}\n  Fix: pulumi config set imageSigner ${signerExample}`,
    },
    {
        what: "an image signer for images the stack builds, which nobody signed",
        overrides: { imageSigner: signerExample },
        problem:
            "- `imageSigner` names a signer, but this stack builds images nobody signed; release signed digests " +
            "(tasksImage and requestsImage), or set it to none.\n" +
            `  Example: ${signerExample}\n  Fix: pulumi config set imageSigner ${signerExample}`,
    },
    {
        what: "a cosign image given by tag",
        overrides: { cosignImage: "ghcr.io/sigstore/cosign/cosign:v3.1.3" },
        problem:
            '- `cosignImage` is "ghcr.io/sigstore/cosign/cosign:v3.1.3"; it must be an image pinned by digest, ' +
            "registry/namespace/name@sha256:<digest>.\n" +
            "  Example: registry.example.com/mirror/cosign@sha256:<64 hex digits>\n" +
            "  Fix: pulumi config set cosignImage registry.example.com/mirror/cosign@sha256:<64 hex digits>",
    },
    {
        what: "a malformed AMI id",
        overrides: { hostAmi: "ami-XYZ" },
        problem:
            '- `hostAmi` is "ami-XYZ"; it must look like ami-….\n' +
            "  Example: ami-0123456789abcdef0\n  Fix: pulumi config set hostAmi ami-0123456789abcdef0",
    },
    {
        what: "a CIDR without a prefix",
        overrides: { ingressCidrs: ["10.0.0.0"] },
        problem:
            '- `ingressCidrs` holds "10.0.0.0": it must be an address/prefix CIDR.\n' +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "a repeated CIDR",
        overrides: { ingressCidrs: ["10.0.0.0/8", "10.0.0.0/8"] },
        problem:
            "- `ingressCidrs` lists 10.0.0.0/8 more than once.\n" +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "ingress CIDRs that are not a list",
        overrides: { ingressCidrs: "10.0.0.0/8" },
        problem:
            "- `ingressCidrs` must be a list of strings.\n" +
            "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
    },
    {
        what: "a VPC without a subnet",
        overrides: { vpcId: "vpc-0123456789abcdef0" },
        problem:
            "- `subnetId` is not set, but `vpcId` is; set both, or neither for the default VPC.\n" +
            "  Example: subnet-0123456789abcdef0\n  Fix: pulumi config set subnetId subnet-0123456789abcdef0",
    },
    {
        what: "a malformed subnet id",
        overrides: { vpcId: "vpc-0123456789abcdef0", subnetId: "sub-123" },
        problem:
            '- `subnetId` is "sub-123"; it must look like subnet-….\n' +
            "  Example: subnet-0123456789abcdef0\n  Fix: pulumi config set subnetId subnet-0123456789abcdef0",
    },
    {
        what: "a tag without a value",
        overrides: { tags: ["team"] },
        problem:
            '- `tags` holds "team"; each tag must be key=value.\n' +
            "  Example: team=platform\n  Fix: pulumi config set --path 'tags[0]' team=platform",
    },
    {
        what: "a tag the program sets itself",
        overrides: { tags: ["service=other"] },
        problem:
            '- `tags` holds "service=other"; the key service is set by the program.\n' +
            "  Example: team=platform\n  Fix: pulumi config set --path 'tags[0]' team=platform",
    },
    {
        what: "an unknown log level",
        overrides: { logLevel: "trace" },
        problem:
            '- `logLevel` is "trace"; allowed values are debug, info, warn, error.\n' +
            "  Example: info\n  Fix: pulumi config set logLevel info",
    },
    {
        what: "a Logsene receiver URL with credentials",
        overrides: { logseneReceiverUrl: "https://user:pw@logsene-receiver.sematext.com" },
        problem:
            '- `logseneReceiverUrl` is "https://user:pw@logsene-receiver.sematext.com"; it must not hold credentials.\n' +
            "  Example: https://logsene-receiver.eu.sematext.com\n" +
            "  Fix: pulumi config set logseneReceiverUrl https://logsene-receiver.eu.sematext.com",
    },
    {
        what: "a repository without a namespace",
        overrides: { requestsRepository: "requests" },
        problem:
            '- `requestsRepository` is "requests"; it must be namespace/name in lowercase letters, digits and . _ -.\n' +
            "  Example: myname/requests\n  Fix: pulumi config set requestsRepository myname/requests",
    },
    {
        what: "a domain in capitals",
        overrides: { tasksDomain: "Tasks.Example.com" },
        problem:
            '- `tasksDomain` is "Tasks.Example.com"; it must be a DNS name in lowercase letters, digits and dashes, such as tasks.example.com.\n' +
            "  Example: tasks.example.com\n  Fix: pulumi config set tasksDomain tasks.example.com",
    },
    {
        what: "a wildcard domain",
        overrides: { requestsDomain: "*.example.com" },
        problem:
            '- `requestsDomain` is "*.example.com"; it must be a DNS name in lowercase letters, digits and dashes, such as requests.example.com.\n' +
            "  Example: requests.example.com\n  Fix: pulumi config set requestsDomain requests.example.com",
    },
    {
        what: "an IP address as a domain",
        overrides: { tasksDomain: "198.51.100.7" },
        problem:
            '- `tasksDomain` is "198.51.100.7", an IP address; leave it empty and the host gets a certificate for its Elastic IP.\n' +
            "  Example: tasks.example.com\n  Fix: pulumi config set tasksDomain tasks.example.com",
    },
    {
        what: "one domain for both services",
        overrides: { tasksDomain: "api.example.com", requestsDomain: "api.example.com" },
        problem:
            '- `requestsDomain` is "api.example.com", the same as `tasksDomain`; each service needs a name of its own.\n' +
            "  Example: requests.example.com\n  Fix: pulumi config set requestsDomain requests.example.com",
    },
    {
        what: "a zone that is no DNS name",
        overrides: { dnsZone: "example.com.", tasksDomain: "tasks.example.com" },
        problem:
            '- `dnsZone` is "example.com."; it must be the name of a Route 53 public hosted zone, such as example.com.\n' +
            "  Example: example.com\n  Fix: pulumi config set dnsZone example.com",
    },
    {
        what: "a zone without any domain",
        overrides: { dnsZone: "example.com" },
        problem:
            '- `dnsZone` is "example.com", but neither `tasksDomain` nor `requestsDomain` is set; set them to names in the zone, or unset `dnsZone`.\n' +
            "  Example: example.com\n  Fix: pulumi config set dnsZone example.com",
    },
    {
        what: "a domain outside the zone",
        overrides: { dnsZone: "example.com", tasksDomain: "tasks.notexample.com", requestsDomain: "requests.example.com" },
        problem:
            '- `tasksDomain` is "tasks.notexample.com", outside `dnsZone` example.com, where the program creates its record; use a name in the zone, or unset `dnsZone` and create the record yourself.\n' +
            "  Example: tasks.example.com\n  Fix: pulumi config set tasksDomain tasks.example.com",
    },
    {
        what: "an unknown ACME CA",
        overrides: { acmeCa: "zerossl" },
        problem:
            '- `acmeCa` is "zerossl"; allowed values are letsencrypt, letsencrypt-staging.\n' +
            "  Example: letsencrypt-staging\n  Fix: pulumi config set acmeCa letsencrypt-staging",
    },
    {
        what: "a contact address that is no email address",
        overrides: { acmeEmail: "ops" },
        problem:
            '- `acmeEmail` is "ops"; it must be an email address such as ops@example.com.\n' +
            "  Example: ops@example.com\n  Fix: pulumi config set acmeEmail ops@example.com",
    },
];

const digestA = "a".repeat(64);
const digestB = "b".repeat(64);
const callers = (entries: Record<string, unknown>) => JSON.stringify({ callers: entries });
const callersFix = (service: string) =>
    '  Example: {"callers": {"ci": {"access": "write", "keys": ["<SHA-256 of the key, 64 hex digits>"]}}}\n' +
    `  Fix: scripts/api-keys.sh <stack> ${service} add <caller> --write`;

const callerCases: { what: string; overrides: Record<string, string | undefined>; problems: string[] }[] = [
    {
        what: "a stack with no callers of tasks",
        overrides: { tasksApiCallers: undefined },
        problems: ["- `tasksApiCallers` is not set; a service with no callers refuses to start.\n" + callersFix("tasks")],
    },
    {
        what: "callers that are not JSON",
        overrides: { requestsApiCallers: "ci:write" },
        problems: [
            '- `requestsApiCallers` must be JSON of the shape {"callers": {"<caller>": {"access": "read" | "write", "keys": ["<sha256 hex>"]}}}.\n' +
                callersFix("requests"),
        ],
    },
    {
        what: "an empty list of callers",
        overrides: { requestsApiCallers: callers({}) },
        problems: ["- `requestsApiCallers` has no callers; a service with no callers refuses to start.\n" + callersFix("requests")],
    },
    {
        what: "a bad caller id, a bad access, a third key, a key that is not a digest, and a digest two callers share",
        overrides: {
            tasksApiCallers: callers({
                CI: { access: "write", keys: [digestA] },
                mobile: { access: "admin", keys: [digestB, "c".repeat(64), "d".repeat(64)] },
                web: { access: "read", keys: ["SENTINEL".padEnd(64, "0")] },
                worker: { access: "read", keys: [digestA] },
            }),
        },
        problems: [
            '- `tasksApiCallers` names the caller "CI"; a caller id is 1 to 64 of a-z, 0-9 and -, starting with a letter.\n' + callersFix("tasks"),
            "- `tasksApiCallers` gives the caller mobile an access other than read or write.\n" + callersFix("tasks"),
            "- `tasksApiCallers` gives the caller mobile no list of 1 or 2 key digests (2 only during a rotation).\n" + callersFix("tasks"),
            "- `tasksApiCallers` gives the caller web a key digest that is not 64 lowercase hex digits (a SHA-256).\n" + callersFix("tasks"),
            "- `tasksApiCallers` gives the caller worker a key digest the caller CI has too; a key belongs to one caller only.\n" + callersFix("tasks"),
        ],
    },
    {
        what: "a caller of tasks named requests, which the program adds",
        overrides: { tasksApiCallers: callers({ requests: { access: "write", keys: [digestA] } }) },
        problems: ["- `tasksApiCallers` names the caller requests, which the program adds itself; give yours another name.\n" + callersFix("tasks")],
    },
    {
        what: "a caller of tasks holding the requests service's key",
        overrides: {
            requestsTasksApiKey: `msk_${"e".repeat(43)}`,
            tasksApiCallers: callers({ ci: { access: "write", keys: ["b9b2482ad138458f14b7a1b9d78ac0c08fb6bff009604f91c0836782e87aa483"] } }),
        },
        problems: ["- `tasksApiCallers` gives the caller ci a key digest the caller requests has too; a key belongs to one caller only.\n" + callersFix("tasks")],
    },
    {
        what: "a requests key of the wrong shape",
        overrides: { requestsTasksApiKey: "SENTINEL-not-a-key" },
        problems: [
            "- `requestsTasksApiKey` must be msk_ and 43 base64url characters (32 random bytes).\n" +
                "  Example: msk_<43 base64url characters>\n  Fix: scripts/deploy.sh <stack> (it makes one)",
        ],
    },
    {
        what: "callers too many for one SSM parameter",
        overrides: {
            requestsApiCallers: callers(
                Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`caller-${i}`, { access: "read", keys: [i.toString(16).padStart(64, "0")] }])),
            ),
        },
        problems: [
            "- `requestsApiCallers` makes a callers file of 4243 bytes; an SSM parameter holds 4096: revoke callers or old keys.\n" +
                callersFix("requests"),
        ],
    },
];

describe("stack config", () => {
    for (const { what, overrides, problems } of callerCases) {
        it(`refuses ${what}, naming the caller and the rule, never a digest or a key`, async () => {
            const error = await configError(overrides);
            expect(error).to.equal(message(...problems));
            expect(error).not.to.match(/[0-9a-f]{64}|SENTINEL/);
        });
    }

    for (const { what, overrides, problem } of cases) {
        it(`refuses ${what}, with a fix, before creating anything`, async () => {
            expect(await configError(overrides)).to.equal(message(problem));
        });
    }

    it("names every problem in one message", async () => {
        const error = await configError({
            dockerHubToken: undefined,
            mongodbUri: undefined,
            postgresUrl: "mysql://db",
            imagePlatform: "linux/arm64",
            ingressCidrs: ["0.0.0.0/33"],
        });
        expect(error).to.equal(
            message(
                "- `dockerHubToken` is not set; it pushes the images this stack builds.\n" +
                    "  Example: dckr_pat_…\n  Fix: pulumi config set --secret dockerHubToken",
                '- `ingressCidrs` holds "0.0.0.0/33": an IPv4 prefix stops at 32.\n' +
                    "  Example: 10.20.0.0/16\n  Fix: pulumi config set --path 'ingressCidrs[0]' 10.20.0.0/16",
                '- `instanceType` is "t3.micro", an x86_64 type, but `imagePlatform` is linux/arm64; ' +
                    "pick an arm64 type or change `imagePlatform`.\n" +
                    "  Example: t3.micro\n  Fix: pulumi config set instanceType t3.micro",
                "- `mongodbUri` is not set.\n" +
                    "  Example: mongodb+srv://tasks:PASSWORD@cluster0.example.mongodb.net/tasks\n" +
                    "  Fix: pulumi config set --secret mongodbUri",
                "- `postgresUrl` must start with postgres:// or postgresql://.\n" +
                    "  Example: postgresql://requests:PASSWORD@db.example.com:5432/requests\n" +
                    "  Fix: pulumi config set --secret postgresUrl",
            ),
        );
    });

    it("never echoes a secret's value in its error", async () => {
        const error = await configError({
            dockerHubToken: "dckr pat SENTINELtoken",
            mongodbUri: "https://SENTINELmongo@example.com",
            postgresUrl: "postgres://SENTINELpg@db example.com/x",
            logseneToken: "SENTINEL logsene",
            papertrailDestination: "SENTINELpapertrail",
        });
        expect(error).to.match(/has 5 configuration problems/);
        expect(error).not.to.include("SENTINEL");
    });

    it("accepts IPv6 CIDRs, arm64 hosts for arm64 images, an explicit VPC, and extra tags", async () => {
        const run = await runProgram({
            ...minimalConfig,
            imagePlatform: "linux/arm64",
            instanceType: "t4g.micro",
            requestsInstanceType: "m7g.large",
            ingressCidrs: ["2a05:d018::/36", "192.0.0.0/8"],
            vpcId: "vpc-0123456789abcdef0",
            subnetId: "subnet-0123456789abcdef0",
            tags: ["team=platform", "note=a=b"],
        });
        expect(run.resources).not.to.be.empty;
    });

    it("accepts a domain per service in the zone, the zone's apex, and a contact address", async () => {
        const run = await runProgram({
            ...minimalConfig,
            dnsZone: "example.com",
            tasksDomain: "example.com",
            requestsDomain: "requests-1.eu.example.com",
            acmeEmail: "ops+certs@example.com",
        });
        expect(run.resources.filter((resource) => resource.type === "aws:route53/record:Record")).to.have.length(2);
    });

    it("needs no Docker Hub account when every image is given by digest", async () => {
        const digest = (service: string) => `docker.io/octocat/${service}@sha256:${"c".repeat(64)}`;
        const { dockerHubToken, dockerHubUsername, ...serviceSecrets } = minimalConfig;
        const run = await runProgram({
            ...serviceSecrets,
            tasksImage: digest("tasks"),
            requestsImage: digest("requests"),
        });
        expect(run.resources.filter((resource) => resource.type === "docker:index/image:Image")).to.deep.equal([]);
        expect(await configError({ dockerHubToken: undefined, tasksImage: digest("tasks") })).to.equal(
            message(
                "- `dockerHubToken` is not set; it pushes the images this stack builds.\n" +
                    "  Example: dckr_pat_…\n  Fix: pulumi config set --secret dockerHubToken",
            ),
        );
    });
});
