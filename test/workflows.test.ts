// The delivery pipeline, tested as data (GitHub cannot run here): what each job can reach, pins, concurrency, the one
// build promoted from dev to prod, the image scans, and the scripts the jobs run. Each check also runs on mutated
// copies of the workflows, which it must fail, so a green run means something.
import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as YAML from "yaml";
import { root } from "./mocks";
import { run, tool } from "./tools";
import {
    concurrencyProblems,
    Files,
    groupsMayMeet,
    load,
    pinProblems,
    prodJobProblems,
    pullRequestReachProblems,
    readRepositoryFiles,
    Repository,
    settingProblems,
} from "./workflows";

const real = readRepositoryFiles();

/** A copy of the files with one text replaced in one file; the replacement must happen. */
function mutated(file: string, from: string | RegExp, to: string, files: Files = real): Files {
    const text = files.get(file) ?? "";
    const changed = text.replace(from, to);
    if (changed === text) throw new Error(`the mutation of ${file} changed nothing: ${from}`);
    return new Map(files).set(file, changed);
}

const preview = ".github/workflows/pull-request.yml";
const deploy = ".github/workflows/deploy.yml";
const prepareStack = ".github/actions/prepare-stack/action.yml";

describe("workflows: what pull requests can reach", () => {
    const repository = load(real);

    it("follows pull requests into the reusable tests workflow and the composite actions", () => {
        const paths = repository.jobs.filter((job) => job.workflow === "pull-request.yml").map((job) => job.path);
        expect(paths).to.include.members([
            "pull-request.yml > tests > tests.yml:test",
            "pull-request.yml > tests > tests.yml:images",
            "pull-request.yml:preview-dev",
            "pull-request.yml:preview-prod-settings",
        ]);
        const previewDev = repository.jobs.find((job) => job.path === "pull-request.yml:preview-dev")!;
        // The role comes through prepare-stack's input, filled in from the job's with:.
        expect(previewDev.roles).to.deep.equal(["${{ vars.PREVIEW_ROLE_ARN }}"]);
        expect([...previewDev.secrets]).to.include("DEV_PULUMI_CONFIG_PASSPHRASE");
        expect(previewDev.environment).to.equal(undefined);
    });

    it("gives pull requests no prod setting, deployer role, main-only environment or inherited secret", () => {
        expect(pullRequestReachProblems(repository)).to.deep.equal([]);
        const reviewDeploy = repository.jobs.find((job) => job.path === "review-stack.yml:deploy")!;
        expect(reviewDeploy.environment).to.equal("review");
        expect(reviewDeploy.roles).to.deep.equal(["${{ vars.REVIEW_ROLE_ARN }}"]);
    });

    it("fails a prod secret reachable from a pull request, directly or through a reusable workflow", () => {
        const direct = mutated(preview, "secrets.DEV_MONGODB_URI", "secrets.PROD_MONGODB_URI");
        expect(pullRequestReachProblems(load(direct))).to.deep.equal([
            "pull-request.yml:preview-dev reaches prod's secret PROD_MONGODB_URI",
        ]);
        const called = mutated(
            ".github/workflows/tests.yml",
            "      - run: scripts/test.sh",
            [
                "      - run: scripts/test.sh",
                "        env:",
                "          TOKEN: ${{ secrets.PROD_PULUMI_CONFIG_PASSPHRASE }}",
            ].join("\n"),
        );
        expect(pullRequestReachProblems(load(called))).to.include(
            "pull-request.yml > tests > tests.yml:test reaches prod's secret PROD_PULUMI_CONFIG_PASSPHRASE",
        );
    });

    it("fails the deployer's role, or a literal role ARN, assumed from a pull request", () => {
        const deployer = mutated(preview, "vars.PREVIEW_ROLE_ARN", "vars.DEV_DEPLOY_ROLE_ARN");
        expect(pullRequestReachProblems(load(deployer))).to.deep.equal([
            "pull-request.yml:preview-dev reaches the deployer's role (variable DEV_DEPLOY_ROLE_ARN)",
        ]);
        const literal = mutated(preview, "${{ vars.PREVIEW_ROLE_ARN }}", "arn:aws:iam::123456789012:role/deployer");
        expect(pullRequestReachProblems(load(literal))).to.deep.equal([
            "pull-request.yml:preview-dev assumes a role that no variable names: arn:aws:iam::123456789012:role/deployer",
        ]);
    });

    it("fails secrets: inherit, a main-only environment, and a secret read by a computed name", () => {
        const inherit = mutated(
            preview,
            "    uses: ./.github/workflows/tests.yml",
            "    uses: ./.github/workflows/tests.yml\n    secrets: inherit",
        );
        expect(pullRequestReachProblems(load(inherit))).to.include(
            "pull-request.yml > tests > tests.yml:test gets every repository secret through secrets: inherit",
        );
        const prodEnvironment = mutated(
            preview,
            "    timeout-minutes: 30\n    permissions:",
            "    timeout-minutes: 30\n    environment: prod\n    permissions:",
        );
        expect(pullRequestReachProblems(load(prodEnvironment))).to.include(
            "pull-request.yml:preview-dev runs in environment prod, which pull requests must not reach",
        );
        const computed = mutated(preview, "secrets.DEV_MONGODB_URI", "secrets[format('{0}_MONGODB_URI', 'PROD')]");
        expect(pullRequestReachProblems(load(computed))).to.deep.equal([
            "pull-request.yml:preview-dev reads secrets or vars by a computed name: secrets[format('{0}_MONGODB_URI', 'PROD')]",
        ]);
    });
});

describe("workflows: settings and the prod environment", () => {
    const repository = load(real);

    it("reads only the settings docs/ci-cd.md lists, each where it is stored, and reads every listed one", () => {
        expect(repository.settings.length).to.be.greaterThan(20);
        expect(settingProblems(repository)).to.deep.equal([]);
    });

    it("fails a setting read outside its environment, and one the docs do not list", () => {
        const outside = mutated(deploy, "vars.DEV_DEPLOY_ROLE_ARN", "vars.PROD_DEPLOY_ROLE_ARN");
        expect(settingProblems(load(outside))).to.deep.equal([
            "deploy.yml:dev reads variable PROD_DEPLOY_ROLE_ARN of environment prod but runs in environment dev",
        ]);
        const unlisted = mutated(deploy, "secrets.DOCKERHUB_TOKEN", "secrets.DOCKER_PASSWORD");
        expect(settingProblems(load(unlisted))).to.include(
            "deploy.yml:images reads secret DOCKER_PASSWORD, which docs/ci-cd.md does not list",
        );
    });

    it("runs every job that reaches prod in environment prod, which takes main only and reviewers", () => {
        expect(prodJobProblems(repository)).to.deep.equal([]);
        const prodJobs = repository.jobs.filter((job) => job.environment === "prod").map((job) => job.path);
        expect(prodJobs).to.deep.equal(["deploy.yml:prod", "drift.yml:prod"]);
        const ungated = mutated(deploy, "    environment: prod\n", "");
        expect(prodJobProblems(load(ungated))).to.deep.equal([
            "deploy.yml:prod reaches PROD_PULUMI_CONFIG_PASSPHRASE, PROD_MONGODB_URI, PROD_POSTGRES_URL, " +
                "PROD_LOGSENE_TOKEN, PROD_PAPERTRAIL_DESTINATION, PROD_PULUMI_BACKEND_URL, PROD_DEPLOY_ROLE_ARN but " +
                "does not declare environment: prod",
        ]);
        const noReviewers = mutated("docs/ci-cd.md", "| `prod` | main | required |", "| `prod` | main | none |");
        expect(prodJobProblems(load(noReviewers))).to.deep.equal([
            "docs/ci-cd.md must make prod main-only, with reviewers",
        ]);
    });
});

describe("workflows: pins", () => {
    it("pins every uses: to a 40-hex commit SHA with its version in a comment, the same pin everywhere", () => {
        expect(pinProblems(real)).to.deep.equal([]);
        const pins = [...real.values()].join("\n").match(/uses: [^.\s][^\s]*@[0-9a-f]{40} # \S+/g) ?? [];
        expect(pins.length).to.be.greaterThan(20);
    });

    it("fails a tag pin, a short SHA, a missing version comment and two pins of one action", () => {
        const line = (files: Files, file: string, text: string) =>
            (files.get(file) ?? "").split("\n").findIndex((l) => l.includes(text)) + 1;
        const tag = mutated(prepareStack, /pulumi\/actions@[0-9a-f]{40} # v7.0.0/, "pulumi/actions@v7");
        expect(pinProblems(tag)).to.deep.equal([
            `${prepareStack}:${line(tag, prepareStack, "pulumi/actions@v7")} uses pulumi/actions@v7, which is not ` +
                "pinned to a full 40-hex commit SHA",
        ]);
        const short = mutated(
            prepareStack,
            "pulumi/actions@8e5e406f4007fca908480587cb9893c07090f58d",
            "pulumi/actions@8e5e406",
        );
        expect(pinProblems(short)).to.have.length(1);
        const uncommented = mutated(prepareStack, /(pulumi\/actions@[0-9a-f]{40}) # v7.0.0/, "$1");
        expect(pinProblems(uncommented)[0]).to.match(/pins pulumi\/actions@[0-9a-f]{40} without its version/);
        const twoPins = mutated(
            deploy,
            /docker\/login-action@[0-9a-f]{40} # v3.4.0/,
            `docker/login-action@${"a".repeat(40)} # v3.3.0`,
        );
        expect(pinProblems(twoPins)).to.have.length(1);
        expect(pinProblems(twoPins)[0]).to.match(/pins docker\/login-action to [0-9a-f]{40} # v3\.\d\.0, elsewhere/);
    });
});

describe("workflows: concurrency", () => {
    const repository = load(real);

    it("tells concurrency groups that can meet from those that cannot", () => {
        expect(groupsMayMeet("deploy-dev", "deploy-dev")).to.equal(true);
        expect(groupsMayMeet("deploy-dev", "drift-dev")).to.equal(false);
        expect(groupsMayMeet("stack-${{ inputs.stack }}", "stack-dev")).to.equal(true);
        expect(groupsMayMeet("review-pr-${{ x }}", "preview-pr-${{ x }}")).to.equal(false);
        expect(groupsMayMeet("${{ x }}-dev", "drift-dev")).to.equal(true);
    });

    it("runs deploys in groups that never cancel them and that no preview or drift check shares", () => {
        expect(concurrencyProblems(repository)).to.deep.equal([]);
        const groups = repository.jobs
            .filter((job) => /\bpulumi up\b/.test(job.commands))
            .map((job) => `${job.path}: ${job.concurrency.map((c) => c.group).join(", ")}`);
        expect(groups).to.deep.equal([
            "deploy.yml:dev: deploy-dev",
            "deploy.yml:prod: deploy-prod",
            "review-stack.yml:deploy: review-pr-${{ github.event.pull_request.number }}",
        ]);
    });

    it("fails a deploy group shared with a drift check, a cancellable deploy, and a deploy with no group", () => {
        const shared = mutated(".github/workflows/drift.yml", "group: drift-dev", "group: deploy-dev");
        expect(concurrencyProblems(load(shared))).to.deep.equal([
            "deploy.yml:dev deploys in group deploy-dev, which drift.yml:dev can share (deploy-dev)",
        ]);
        const cancellable = mutated(
            deploy,
            "group: deploy-prod\n      cancel-in-progress: false",
            "group: deploy-prod\n      cancel-in-progress: true",
        );
        expect(concurrencyProblems(load(cancellable))).to.deep.equal([
            "deploy.yml:prod deploys in group deploy-prod with cancel-in-progress: true",
        ]);
        const workflowLevel = mutated(
            deploy,
            "permissions:\n  contents: read\njobs:",
            "permissions:\n  contents: read\nconcurrency:\n  group: main\n  cancel-in-progress: true\njobs:",
        );
        expect(concurrencyProblems(load(workflowLevel))).to.include(
            "deploy.yml:dev deploys in group main with cancel-in-progress: true",
        );
        const none = mutated(
            deploy,
            "    concurrency:\n      group: deploy-dev\n      cancel-in-progress: false\n",
            "",
        );
        expect(concurrencyProblems(load(none))).to.deep.equal(["deploy.yml:dev deploys without a concurrency group"]);
    });
});

/** The images each job hands prepare-stack, and which job pushes images. */
function promotion(repository: Repository) {
    const deployJobs = repository.jobs.filter((job) => job.workflow === "deploy.yml");
    const releases = deployJobs.flatMap((job) =>
        job.actionInputs
            .filter((a) => a.action === ".github/actions/prepare-stack")
            .map((a) => ({
                job: job.path,
                stack: a.inputs.stack,
                tasks: a.inputs["tasks-image"],
                requests: a.inputs["requests-image"],
            })),
    );
    const pushers = deployJobs
        .filter((job) =>
            job.actionInputs.some((a) => a.action === ".github/actions/build-images" && a.inputs.push === "true"),
        )
        .map((job) => job.path);
    return { releases, pushers };
}

describe("workflows: one build per commit, promoted from dev to prod", () => {
    it("pushes the images in one job, and releases its digests to dev and then to prod", () => {
        const { releases, pushers } = promotion(load(real));
        expect(pushers).to.deep.equal(["deploy.yml:images"]);
        expect(releases).to.deep.equal([
            {
                job: "deploy.yml:dev",
                stack: "dev",
                tasks: "${{ needs.images.outputs.tasks-image }}",
                requests: "${{ needs.images.outputs.requests-image }}",
            },
            {
                job: "deploy.yml:prod",
                stack: "prod",
                tasks: "${{ needs.images.outputs.tasks-image }}",
                requests: "${{ needs.images.outputs.requests-image }}",
            },
        ]);
        const workflow = YAML.parse(real.get(deploy)!);
        expect(workflow.jobs.prod.needs).to.include("dev");
        // The images job's outputs are build-images' digests, docker.io/<namespace>/<service>@sha256:…
        expect(workflow.jobs.images.outputs["tasks-image"]).to.equal("${{ steps.build.outputs.tasks-image }}");
        const action = YAML.parse(real.get(".github/actions/build-images/action.yml")!);
        expect(action.outputs["tasks-image"].value).to.equal(
            "docker.io/${{ inputs.namespace }}/tasks@${{ steps.tasks.outputs.digest }}",
        );
    });

    it("sees a prod release that would build its own images", () => {
        const rebuilt = mutated(
            deploy,
            /(          # The digests dev released, not another build.\n)          tasks-image: \$\{\{ needs.images.outputs.tasks-image \}\}/,
            "$1          tasks-image: ${{ steps.rebuild.outputs.tasks-image }}",
        );
        const prod = promotion(load(rebuilt)).releases.find((r) => r.stack === "prod")!;
        expect(prod.tasks).not.to.equal(promotion(load(real)).releases[0].tasks);
    });
});

describe("workflows: images built and scanned on every pull request", () => {
    it("builds both images without pushing them, and fails on fixable critical vulnerabilities", () => {
        const images = load(real).jobs.find((job) => job.path === "pull-request.yml > tests > tests.yml:images")!;
        expect(images.actionInputs).to.deep.equal([
            {
                action: ".github/actions/build-images",
                inputs: { namespace: "${{ vars.DOCKERHUB_USERNAME || 'local' }}", push: "false" },
            },
        ]);
        const scans = YAML.parse(real.get(".github/workflows/tests.yml")!).jobs.images.steps.filter(
            (step: { uses?: string }) => step.uses?.startsWith("aquasecurity/trivy-action@"),
        );
        expect(scans.map((step: { with: Record<string, unknown> }) => step.with)).to.deep.equal(
            ["tasks", "requests"].map((service) => ({
                "image-ref": `\${{ steps.build.outputs.${service}-tag }}`,
                version: "v0.69.3",
                severity: "CRITICAL",
                "ignore-unfixed": true,
                "exit-code": "1",
            })),
        );
    });
});

describe("workflows: Dependabot", () => {
    it("keeps Dependabot's configuration valid, covering every lockfile, requirements file and Dockerfile", () => {
        const result = run(tool("check-jsonschema"), [
            "--builtin-schema",
            "vendor.dependabot",
            path.join(root, ".github/dependabot.yml"),
        ]);
        expect(result.status, result.stdout + result.stderr).to.equal(0);
        const config = YAML.parse(fs.readFileSync(path.join(root, ".github/dependabot.yml"), "utf8"));
        const covered = (ecosystem: string) =>
            config.updates
                .filter((u: { "package-ecosystem": string }) => u["package-ecosystem"] === ecosystem)
                .flatMap((u: { directories: string[] }) => u.directories);
        const tracked = run("git", ["-C", root, "ls-files"]).stdout.split("\n");
        const folders = (pattern: RegExp) => [
            ...new Set(tracked.filter((f) => pattern.test(f)).map((f) => `/${path.dirname(f)}`.replace(/\/\.$/, "/"))),
        ];
        expect(covered("npm")).to.have.members(folders(/(^|\/)package-lock\.json$/));
        expect(covered("pip")).to.have.members(folders(/(^|\/)requirements[^/]*\.txt$/));
        expect(covered("docker")).to.have.members(folders(/(^|\/)Dockerfile$/));
        expect(covered("github-actions")).to.have.members(["/", "/.github/actions/*"]);
    });
});

describe("workflows: the drift issue script keeps one open issue per stack", () => {
    let folder: string;
    beforeEach(() => (folder = fs.mkdtempSync(path.join(os.tmpdir(), "drift-"))));
    afterEach(() => fs.rmSync(folder, { recursive: true, force: true }));

    /** Runs drift-issue.sh with a `gh` that lists the given open issues and records every other call. */
    function driftIssue(state: string, openIssues: string[]): string[] {
        const bin = path.join(folder, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(folder, "issues.tsv"), openIssues.map((line) => `${line}\n`).join(""));
        fs.writeFileSync(
            path.join(bin, "gh"),
            `#!/bin/bash\nif [ "$1 $2" = "issue list" ]; then cat "${folder}/issues.tsv"; exit; fi\n` +
                `{ printf '%s' "$*" | tr '\\n' ' '; echo; } >>"${folder}/calls"\n`,
            { mode: 0o755 },
        );
        fs.writeFileSync(path.join(folder, "report.txt"), "~ aws:ec2/securityGroup:SecurityGroup tasks-sg update\n");
        const env = {
            PATH: `${bin}:${process.env.PATH}`,
            GITHUB_SERVER_URL: "https://github.com",
            GITHUB_REPOSITORY: "octo/repo",
            GITHUB_RUN_ID: "77",
        };
        const result = run(
            path.join(root, ".github/scripts/drift-issue.sh"),
            ["dev", state, path.join(folder, "report.txt")],
            env,
        );
        expect(result.status, result.stderr).to.equal(0);
        return fs.existsSync(path.join(folder, "calls"))
            ? fs.readFileSync(path.join(folder, "calls"), "utf8").trim().split("\n")
            : [];
    }

    it("comments on the stack's open issue instead of opening another", () => {
        const calls = driftIssue("drift", ["12\tDrift on the prod stack", "34\tDrift on the dev stack"]);
        expect(calls).to.have.length(1);
        expect(calls[0]).to.match(/^issue comment 34 --repo octo\/repo --body The drift check of the dev stack found/);
        expect(calls[0]).to.include("https://github.com/octo/repo/actions/runs/77");
        expect(calls[0]).to.include("tasks-sg update");
    });

    it("opens the stack's issue, labelled drift, when none is open", () => {
        const calls = driftIssue("drift", ["12\tDrift on the prod stack", "13\tDrift on the dev stack, again?"]);
        expect(calls.map((call) => call.split(" --body")[0].split(" --description")[0])).to.deep.equal([
            "label create drift --repo octo/repo --force --color D93F0B",
            "issue create --repo octo/repo --title Drift on the dev stack --label drift",
        ]);
    });

    it("closes the stack's issue once the stack is back in line, and does nothing when none is open", () => {
        expect(driftIssue("clean", ["34\tDrift on the dev stack"])).to.deep.equal([
            "issue close 34 --repo octo/repo --comment The drift check of the dev stack finds no drift any more: " +
                "https://github.com/octo/repo/actions/runs/77",
        ]);
    });

    it("does nothing on a clean check with no open issue", () => {
        expect(driftIssue("clean", ["12\tDrift on the prod stack"])).to.deep.equal([]);
    });
});
