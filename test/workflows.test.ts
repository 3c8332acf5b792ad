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
    installScriptProblems,
    pinProblems,
    prodJobProblems,
    pullRequestCanStart,
    pullRequestReachProblems,
    readRepositoryFiles,
    Repository,
    scriptInjectionProblems,
    secretEnvironmentProblems,
    settingProblems,
    signerProblems,
    trustPolicyProblems,
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
const drift = ".github/workflows/drift.yml";
const prComment = ".github/workflows/pr-comment.yml";
const prepareStack = ".github/actions/prepare-stack/action.yml";

/** The 1-based line of the first line of a file that holds a text. */
const line = (files: Files, file: string, text: string) =>
    (files.get(file) ?? "").split("\n").findIndex((l) => l.includes(text)) + 1;

describe("workflows: what pull requests can reach", () => {
    const repository = load(real);

    it("follows pull requests into the reusable tests workflow, the composite actions and every PR-started workflow", () => {
        const started = repository.jobs.filter((job) => pullRequestCanStart(repository, job)).map((job) => job.path);
        expect(started).to.include.members([
            "pull-request.yml > tests > tests.yml:test",
            "pull-request.yml:preview (dev)",
            "pr-comment.yml:comment",
            "review-build.yml:images",
            "review-stack.yml:deploy",
            "review-teardown.yml:sweep",
        ]);
        // Jobs in main-only environments that no main-run trigger reaches are out of a pull request's reach.
        expect(started).not.to.include.members(["deploy.yml:prod", "drift.yml:prod", "deploy.yml:images"]);
        const preview = repository.jobs.find((job) => job.path === "pull-request.yml:preview (dev)")!;
        // The role comes through prepare-stack's input, filled in from the job's with:.
        expect(preview.roles).to.deep.equal(["${{ vars.PREVIEW_ROLE_ARN }}"]);
        expect([...preview.secrets]).to.deep.equal([]);
    });

    it("gives pull requests no prod setting, deployer role, closed environment, checkout ref or write token", () => {
        expect(pullRequestReachProblems(repository)).to.deep.equal([]);
        const reviewDeploy = repository.jobs.find((job) => job.path === "review-stack.yml:deploy")!;
        expect(reviewDeploy.environment).to.equal("review");
        expect(reviewDeploy.roles).to.deep.equal(["${{ vars.REVIEW_ROLE_ARN }}"]);
    });

    it("fails issue_comment on the drift check with a checkout of the pull request in its prod job", () => {
        const commented = mutated(drift, "  workflow_dispatch:\n", "  workflow_dispatch:\n  issue_comment:\n");
        const exposed = mutated(
            drift,
            "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n        with:\n          persist-credentials: false\n      - uses: ./.github/actions/prepare-stack\n        with:\n          stack: prod",
            "      - uses: actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0\n        with:\n          persist-credentials: false\n          ref: refs/pull/${{ github.event.issue.number }}/head\n      - uses: ./.github/actions/prepare-stack\n        with:\n          stack: prod",
            commented,
        );
        expect(pullRequestReachProblems(load(exposed))).to.include.members([
            "drift.yml:prod checks out this repository at refs/pull/${{ github.event.issue.number }}/head",
            "drift.yml:prod runs in environment prod-drift, which pull requests must not reach",
            "drift.yml:prod reaches prod's variable PROD_DRIFT_ROLE_ARN",
        ]);
    });

    it("treats workflow_run, pull_request_target, merge_group and branch pushes as started by pull requests", () => {
        for (const trigger of ["workflow_run:\n    workflows: [Tests]", "pull_request_target:", "merge_group:", "push:\n    branches: ['**']"]) {
            const started = mutated(drift, "  workflow_dispatch:\n", `  workflow_dispatch:\n  ${trigger}\n`);
            const problems = pullRequestReachProblems(load(started));
            if (trigger.startsWith("merge_group") || trigger.startsWith("push")) {
                // They run the branch's workflow, which main-only environments refuse: dev and prod-drift hold.
                expect(problems, trigger).to.deep.equal([]);
            } else {
                expect(problems, trigger).to.include("drift.yml:prod reaches prod's variable PROD_DRIFT_ROLE_ARN");
            }
        }
        const openDev = mutated("docs/ci-cd.md", "| `dev` | main | none | no |", "| `dev` | any branch | none | no |");
        const pushed = mutated(drift, "  workflow_dispatch:\n", "  workflow_dispatch:\n  push:\n", openDev);
        expect(pullRequestReachProblems(load(pushed))).to.include(
            "drift.yml:dev runs in environment dev, which pull requests must not reach",
        );
    });

    it("fails a write token in a job that runs a pull request's code", () => {
        const writer = mutated(preview, "      contents: read\n      id-token: write\n", "      contents: read\n      id-token: write\n      pull-requests: write\n");
        expect(pullRequestReachProblems(load(writer))).to.deep.equal([
            "pull-request.yml:preview (dev) holds pull-requests: write while it runs a pull request's own code",
            "pull-request.yml:preview (prod) holds pull-requests: write while it runs a pull request's own code",
        ]);
    });

    it("fails a prod secret reachable from a pull request, directly or through a reusable workflow", () => {
        const direct = mutated(preview, "          LOGSENE_TOKEN: placeholder", "          LOGSENE_TOKEN: ${{ secrets.PROD_LOGSENE_TOKEN }}");
        expect(pullRequestReachProblems(load(direct))).to.include(
            "pull-request.yml:preview (dev) reaches prod's secret PROD_LOGSENE_TOKEN",
        );
        const called = mutated(
            ".github/workflows/tests.yml",
            "      - run: scripts/test.sh",
            ["      - run: scripts/test.sh", "        env:", "          TOKEN: ${{ secrets.PROD_MONGODB_URI }}"].join("\n"),
        );
        expect(pullRequestReachProblems(load(called))).to.include(
            "pull-request.yml > tests > tests.yml:test reaches prod's secret PROD_MONGODB_URI",
        );
    });

    it("fails the deployer's role, or a literal role ARN, assumed from a pull request", () => {
        const deployer = mutated(preview, "vars.PREVIEW_ROLE_ARN", "vars.DEV_DEPLOY_ROLE_ARN");
        expect(pullRequestReachProblems(load(deployer))).to.include(
            "pull-request.yml:preview (dev) reaches the deployer's role (variable DEV_DEPLOY_ROLE_ARN)",
        );
        const literal = mutated(preview, "${{ vars.PREVIEW_ROLE_ARN }}", "arn:aws:iam::123456789012:role/deployer");
        expect(pullRequestReachProblems(load(literal))).to.include(
            "pull-request.yml:preview (dev) assumes a role that no variable names: arn:aws:iam::123456789012:role/deployer",
        );
    });

    it("fails secrets: inherit, locally or to another repository's workflow, and a computed secret name", () => {
        const inherit = mutated(preview, "    uses: ./.github/workflows/tests.yml", "    uses: ./.github/workflows/tests.yml\n    secrets: inherit");
        expect(pullRequestReachProblems(load(inherit))).to.include(
            "pull-request.yml > tests > tests.yml:test gets every repository secret through secrets: inherit",
        );
        const remote = mutated(
            preview,
            "jobs:\n",
            `jobs:\n  lint:\n    uses: octo/shared/.github/workflows/lint.yml@${"a".repeat(40)} # v1.2.0\n    secrets: inherit\n`,
        );
        expect(pullRequestReachProblems(load(remote))).to.include(
            `pull-request.yml:lint passes every secret to a workflow of another repository: octo/shared/.github/workflows/lint.yml@${"a".repeat(40)}`,
        );
        const computed = mutated(preview, "          LOGSENE_TOKEN: placeholder", "          LOGSENE_TOKEN: ${{ secrets[format('{0}_LOGSENE_TOKEN', 'PROD')] }}");
        expect(pullRequestReachProblems(load(computed))).to.include(
            "pull-request.yml:preview (dev) reads secrets or vars by a computed name: secrets[format('{0}_LOGSENE_TOKEN', 'PROD')]",
        );
    });
});

describe("workflows: script injection, secrets per step, install scripts", () => {
    const repository = load(real);

    it("expands no expression inside run:, puts no secret in a job's env:, and runs no install script with a secret", () => {
        expect(scriptInjectionProblems(repository)).to.deep.equal([]);
        expect(secretEnvironmentProblems(repository)).to.deep.equal([]);
        expect(installScriptProblems(repository)).to.deep.equal([]);
    });

    it("fails a comment body expanded into a script, in a workflow or a composite action", () => {
        const injected = mutated(prComment, "          for stack in dev prod; do", '          echo "${{ github.event.comment.body }}"\n          for stack in dev prod; do');
        expect(scriptInjectionProblems(load(injected))).to.deep.equal([
            "pr-comment.yml:comment expands ${{ github.event.comment.body }} inside run: (pass it through env:)",
        ]);
        const inAction = mutated(prepareStack, "      run: .github/scripts/select-stack.sh", "      run: .github/scripts/select-stack.sh ${{ inputs.stack }}");
        expect(scriptInjectionProblems(load(inAction))).to.include(
            "deploy.yml:dev expands ${{ inputs.stack }} inside run: (pass it through env:)",
        );
    });

    it("fails a secret in a job's env: and npm ci with install scripts in a job that holds one", () => {
        const jobEnv = mutated(deploy, "    environment: dev\n", "    environment: dev\n    env:\n      MONGODB_URI: ${{ secrets.DEV_MONGODB_URI }}\n");
        expect(secretEnvironmentProblems(load(jobEnv))).to.deep.equal([
            "deploy.yml:dev puts a secret in the env: of every step (MONGODB_URI)",
        ]);
        const scripts = mutated(prepareStack, "        npm ci --ignore-scripts --no-audit --no-fund\n", "        npm ci --no-audit --no-fund\n");
        expect(installScriptProblems(load(scripts))).to.include(
            "deploy.yml:dev runs install scripts while it holds a secret: npm ci --no-audit --no-fund",
        );
    });
});

describe("workflows: settings and the prod environments", () => {
    const repository = load(real);

    it("reads only the settings docs/ci-cd.md lists, each where it is stored, and reads every listed one", () => {
        expect(repository.settings.length).to.be.greaterThan(20);
        expect(settingProblems(repository)).to.deep.equal([]);
        // No secret is stored at the repository level, where any branch's workflow could read it.
        expect(repository.settings.filter((s) => s.kind === "secret" && s.scope === "repository")).to.deep.equal([]);
    });

    it("fails a setting read outside its environment, and one the docs do not list", () => {
        const outside = mutated(deploy, "vars.DEV_DEPLOY_ROLE_ARN", "vars.PROD_DEPLOY_ROLE_ARN");
        expect(settingProblems(load(outside))).to.include(
            "deploy.yml:dev reads variable PROD_DEPLOY_ROLE_ARN of environment prod but runs in environment dev",
        );
        const unlisted = mutated(deploy, "secrets.DOCKERHUB_TOKEN", "secrets.DOCKER_PASSWORD");
        expect(settingProblems(load(unlisted))).to.include(
            "deploy.yml:images reads secret DOCKER_PASSWORD, which docs/ci-cd.md does not list",
        );
    });

    it("runs every job that reaches prod in a prod environment, main-only and closed to pull requests", () => {
        expect(prodJobProblems(repository)).to.deep.equal([]);
        const prodJobs = repository.jobs.filter((job) => job.environment?.startsWith("prod")).map((job) => job.path);
        expect(prodJobs).to.deep.equal(["deploy.yml:prod", "drift.yml:prod"]);
        const ungated = mutated(deploy, "    environment: prod\n", "");
        expect(prodJobProblems(load(ungated))).to.deep.equal([
            "deploy.yml:prod reaches PROD_MONGODB_URI, PROD_POSTGRES_URL, PROD_LOGSENE_TOKEN, PROD_PAPERTRAIL_DESTINATION, " +
                "PROD_TASKS_API_CALLERS, PROD_REQUESTS_API_CALLERS, PROD_REQUESTS_TASKS_API_KEY, PROD_PULUMI_BACKEND_URL, PROD_DEPLOY_ROLE_ARN but runs in no prod environment",
        ]);
        const noReviewers = mutated("docs/ci-cd.md", "| `prod` | main | required |", "| `prod` | main | none |");
        expect(prodJobProblems(load(noReviewers))).to.deep.equal(["docs/ci-cd.md must make prod main-only, with reviewers"]);
        const openDrift = mutated("docs/ci-cd.md", "| `prod-drift` | main | none | no |", "| `prod-drift` | any branch | none | no |");
        expect(prodJobProblems(load(openDrift))).to.deep.equal([
            "docs/ci-cd.md must make prod-drift main-only, closed to pull requests",
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
        const tag = mutated(prepareStack, /aws-actions\/configure-aws-credentials@[0-9a-f]{40} # v5.0.0/, "aws-actions/configure-aws-credentials@v5");
        expect(pinProblems(tag)).to.deep.equal([
            `${prepareStack}:${line(tag, prepareStack, "credentials@v5")} uses aws-actions/configure-aws-credentials@v5, ` +
                "which is not pinned to a full 40-hex commit SHA",
        ]);
        const short = mutated(prepareStack, /(configure-aws-credentials@)[0-9a-f]{40}/, "$1a03048d");
        expect(pinProblems(short)).to.have.length(1);
        const uncommented = mutated(prepareStack, /(configure-aws-credentials@[0-9a-f]{40}) # v5.0.0/, "$1");
        expect(pinProblems(uncommented)[0]).to.match(/pins aws-actions\/configure-aws-credentials@[0-9a-f]{40} without its version/);
        const twoPins = mutated(deploy, /docker\/login-action@[0-9a-f]{40} # v3.4.0/, `docker/login-action@${"a".repeat(40)} # v3.3.0`);
        expect(pinProblems(twoPins)).to.have.length(1);
        expect(pinProblems(twoPins)[0]).to.match(/pins docker\/login-action to [0-9a-f]{40} # v3\.\d\.0, elsewhere/);
    });

    it("reads .yaml workflows, flow-style steps and reusable workflows too", () => {
        const yaml = new Map(real).set(
            ".github/workflows/extra.yaml",
            "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: tj-actions/changed-files@v45\n",
        );
        expect(pinProblems(yaml)).to.deep.equal([
            ".github/workflows/extra.yaml:6 uses tj-actions/changed-files@v45, which is not pinned to a full 40-hex commit SHA",
        ]);
        expect(load(yaml).jobs.map((job) => job.path)).to.include("extra.yaml:x");
        const flow = mutated(deploy, "    steps:\n", "    steps:\n      - { uses: tj-actions/changed-files@v45 }\n");
        expect(pinProblems(flow)[0]).to.match(/deploy.yml:\d+ uses tj-actions\/changed-files@v45, which is not pinned/);
        const reusable = mutated(deploy, "jobs:\n", "jobs:\n  lint:\n    uses: octo/shared/.github/workflows/lint.yml@main\n");
        expect(pinProblems(reusable)).to.deep.equal([
            ".github/workflows/deploy.yml:12 uses octo/shared/.github/workflows/lint.yml@main, which is not pinned to a full 40-hex commit SHA",
        ]);
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
            "review-stack.yml:deploy: review-pr-${{ needs.target.outputs.pr }}",
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
            job.actionInputs.some((a) => a.action === ".github/actions/build-images" && a.inputs.output === "push"),
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

describe("workflows: the image that was scanned is the image that ships", () => {
    /** The names of the images job's steps (or what they run), in order. */
    const stepsOf = (files: Files) =>
        YAML.parse(files.get(deploy)!).jobs.images.steps.map(
            (step: { id?: string; run?: string; uses?: string }) =>
                step.id === "build" ? "build" : step.run?.includes("scan-image.sh") ? "scan" : step.run?.includes("sign-image.sh") ? "sign" : "",
        ).filter(Boolean);

    it("pushes with provenance and an SBOM, scans the pushed digests, then signs them, before any release", () => {
        expect(stepsOf(real)).to.deep.equal(["build", "scan", "sign"]);
        const scan = YAML.parse(real.get(deploy)!).jobs.images.steps.find((s: { run?: string }) => s.run?.includes("scan-image.sh"));
        expect(scan.env).to.deep.equal({
            TASKS_IMAGE: "${{ steps.build.outputs.tasks-image }}",
            REQUESTS_IMAGE: "${{ steps.build.outputs.requests-image }}",
        });
        const settings = run(path.join(root, ".github/scripts/build-settings.sh"), ["push"]);
        expect(settings.stdout).to.include("provenance=mode=max");
        const action = YAML.parse(real.get(".github/actions/build-images/action.yml")!);
        const tasks = action.runs.steps.find((s: { id?: string }) => s.id === "tasks").with;
        expect([tasks.sbom, tasks.provenance]).to.deep.equal(["${{ inputs.output == 'push' }}", "${{ steps.settings.outputs.provenance }}"]);
        const workflow = YAML.parse(real.get(deploy)!);
        expect(workflow.jobs.dev.needs).to.equal("images");
        expect(workflow.jobs.images.permissions["id-token"]).to.equal("write");
    });

    it("sees a signature before the scan, a scan of a local build, and a scan left out", () => {
        const signFirst = mutated(deploy, /(      - name: Scan the pushed digests[\s\S]*?)(      - name: Sign the scanned digests[\s\S]*?)(      - name: Name the images)/, "$2$1$3");
        expect(stepsOf(signFirst)).to.deep.equal(["build", "sign", "scan"]);
        const noScan = mutated(deploy, /      - name: Scan the pushed digests[\s\S]*?(      - name: Sign)/, "$1");
        expect(stepsOf(noScan)).to.deep.equal(["build", "sign"]);
    });

    it("makes dev's and prod's hosts require the signature of the workflow that signs their images, on a push to main", () => {
        expect(signerProblems(load(real))).to.deep.equal([]);
        const releases = load(real).jobs.filter((job) => ["deploy.yml:dev", "deploy.yml:prod"].includes(job.path));
        for (const job of releases) {
            const inputs = job.actionInputs.find((given) => given.action === ".github/actions/prepare-stack")!.inputs;
            expect(inputs["image-signer"], job.path).to.equal("https://github.com/${{ github.workflow_ref }}");
        }
    });

    it("fails a release with no signer, one that checks nothing, a signature on another event, and a preview's other signer", () => {
        const unset = mutated(deploy, /\n {10}image-signer: .*\n( {6}# The runtime secrets)/, "\n$1");
        expect(signerProblems(load(unset))).to.deep.equal([
            'deploy.yml:dev gives stack dev the image signer ""; it must be "https://github.com/${{ github.workflow_ref }}"',
        ]);
        const unchecked = mutated(deploy, /(# The digests dev released[\s\S]*?image-signer: ).*/, "$1none");
        expect(signerProblems(load(unchecked))).to.deep.equal([
            'deploy.yml:prod gives stack prod the image signer "none"; it must be "https://github.com/${{ github.workflow_ref }}"',
        ]);
        const dispatched = mutated(deploy, "    branches: [main]\n", "    branches: [main]\n  workflow_dispatch:\n");
        expect(signerProblems(load(dispatched))).to.deep.equal([
            "deploy.yml:images signs on push:main, workflow_dispatch; the hosts accept a push to main's signature only",
        ]);
        const otherPreview = mutated(preview, "workflows/deploy.yml@refs/heads/main", "workflows/other.yml@refs/heads/main");
        expect(signerProblems(load(otherPreview))).to.have.length(2);
    });

    it("refuses to sign an image named by tag: only the scanned digest is signed", () => {
        const result = run(path.join(root, ".github/scripts/sign-image.sh"), ["docker.io/ns/tasks:abc", "/dev/null"]);
        expect(result.status).to.equal(2);
        expect(result.stderr).to.include("is not named by digest");
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
        expect(covered("docker-compose")).to.have.members(folders(/(^|\/)compose\.ya?ml$/));
        expect(covered("github-actions")).to.have.members(["/", "/.github/actions/*"]);
        // The pipeline's tools: every module under .github/tools, each pinning its tool's release.
        expect(covered("gomod")).to.deep.equal(["/.github/tools/*"]);
        expect(folders(/^\.github\/tools\/[^/]+\/go\.sum$/)).to.have.members([
            "/.github/tools/cosign",
            "/.github/tools/pulumi",
            "/.github/tools/trivy",
        ]);
        // A cooldown of a week on every ecosystem: a bad release is usually pulled within days.
        for (const update of config.updates) expect(update.cooldown?.["default-days"], update["package-ecosystem"]).to.be.at.least(7);
    });

    it("builds the Pulumi CLI at the version of @pulumi/pulumi, and each tool from its own release module", () => {
        const sdk = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).dependencies["@pulumi/pulumi"];
        const module = (tool: string) => fs.readFileSync(path.join(root, `.github/tools/${tool}/go.mod`), "utf8");
        expect(module("pulumi")).to.match(new RegExp(`\\tgithub\\.com/pulumi/pulumi/pkg/v3 v${sdk.replace(/\./g, "\\.")}\\b`));
        expect(module("pulumi")).to.include("tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi");
        expect(module("trivy")).to.match(/\tgithub\.com\/aquasecurity\/trivy v0\.69\.3\b/);
        expect(module("cosign")).to.include("tool github.com/sigstore/cosign/v3/cmd/cosign");
    });
});

describe("workflows: the drift issue script keeps one open issue per stack", () => {
    let folder: string;
    beforeEach(() => (folder = fs.mkdtempSync(path.join(os.tmpdir(), "drift-"))));
    afterEach(() => fs.rmSync(folder, { recursive: true, force: true }));

    /** Runs drift-issue.sh with a `gh` that lists the given open issues and records every other call. */
    function driftIssue(state: string, openIssues: string[], withReport = true): string[] {
        const bin = path.join(folder, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(folder, "issues.tsv"), openIssues.map((line) => `${line}\n`).join(""));
        fs.writeFileSync(
            path.join(bin, "gh"),
            `#!/bin/bash\nif [ "$1 $2" = "issue list" ]; then cat "${folder}/issues.tsv"; exit; fi\n` +
                `{ printf '%s' "$*" | tr '\\n' ' '; echo; } >>"${folder}/calls"\n`,
            { mode: 0o755 },
        );
        if (withReport) {
            fs.writeFileSync(path.join(folder, "report.txt"), "~ aws:ec2/securityGroup:SecurityGroup tasks-sg update\n");
        }
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
        const calls = driftIssue("failure", ["12\tDrift on the prod stack", "34\tDrift on the dev stack"]);
        expect(calls).to.have.length(1);
        expect(calls[0]).to.match(/^issue comment 34 --repo octo\/repo --body The drift check of the dev stack found/);
        expect(calls[0]).to.include("https://github.com/octo/repo/actions/runs/77");
        expect(calls[0]).to.include("tasks-sg update");
    });

    it("opens the stack's issue, labelled drift, when none is open", () => {
        const calls = driftIssue("failure", ["12\tDrift on the prod stack", "13\tDrift on the dev stack, again?"]);
        expect(calls.map((call) => call.split(" --body")[0].split(" --description")[0])).to.deep.equal([
            "label create drift --repo octo/repo --force --color D93F0B",
            "issue create --repo octo/repo --title Drift on the dev stack --label drift",
        ]);
    });

    it("closes the stack's issue once the stack is back in line, and does nothing when none is open", () => {
        expect(driftIssue("success", ["34\tDrift on the dev stack"])).to.deep.equal([
            "issue close 34 --repo octo/repo --comment The drift check of the dev stack finds no drift any more: " +
                "https://github.com/octo/repo/actions/runs/77",
        ]);
    });

    it("reports a check that never ran (its step skipped, no report) as one that could not run", () => {
        fs.rmSync(path.join(folder, "report.txt"), { force: true });
        const calls = driftIssue("skipped", ["34\tDrift on the dev stack"], false);
        expect(calls[0]).to.include("The check stopped before comparing anything");
    });

    it("does nothing on a clean check with no open issue", () => {
        expect(driftIssue("success", ["12\tDrift on the prod stack"])).to.deep.equal([]);
    });
});

describe("workflows: AWS trust policies", () => {
    const trust = (name: string) => `.github/aws/trust-${name}.json`;

    it("admits in each role's trust policy exactly the OIDC subjects of the jobs that assume the role", () => {
        expect(trustPolicyProblems(load(real))).to.deep.equal([]);
        // The subjects, as the workflows give them: environment, workflow file and ref, event, repository id.
        expect(JSON.parse(real.get(trust("deploy-prod"))!).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"]).to.deep.equal([
            "repository_id:REPOSITORY_ID:environment:prod:job_workflow_ref:OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main:event_name:push",
        ]);
    });

    it("fails a subject no job carries: another environment, a wildcard repository or environment, another event", () => {
        const pullRequestInDev = mutated(
            trust("deploy-dev"),
            '"repository_id:REPOSITORY_ID:environment:dev:',
            '"repository_id:REPOSITORY_ID:pull_request:job_workflow_ref:OWNER/REPO/.github/workflows/pull-request.yml@refs/heads/main:event_name:pull_request",\n            "repository_id:REPOSITORY_ID:environment:dev:',
        );
        expect(trustPolicyProblems(load(pullRequestInDev))).to.deep.equal([
            ".github/aws/trust-deploy-dev.json admits repository_id:REPOSITORY_ID:pull_request:job_workflow_ref:OWNER/REPO/.github/workflows/pull-request.yml@refs/heads/main:event_name:pull_request, which no job that assumes DEV_DEPLOY_ROLE_ARN carries",
        ]);
        const anyRepository = mutated(trust("preview"), "repository_id:REPOSITORY_ID:", "repository_id:*:");
        expect(trustPolicyProblems(load(anyRepository))).to.have.length(2);
        const anyEnvironment = mutated(trust("review"), '"repository_id:REPOSITORY_ID:environment:review:', '"repository_id:REPOSITORY_ID:environment:*:');
        expect(trustPolicyProblems(load(anyEnvironment)).join("\n")).to.include("admits repository_id:REPOSITORY_ID:environment:*:");
        const anotherEvent = mutated(trust("drift-prod"), "event_name:workflow_dispatch", "event_name:pull_request_target");
        expect(trustPolicyProblems(load(anotherEvent))).to.deep.equal([
            ".github/aws/trust-drift-prod.json admits repository_id:REPOSITORY_ID:environment:prod-drift:job_workflow_ref:OWNER/REPO/.github/workflows/drift.yml@refs/heads/main:event_name:pull_request_target, which no job that assumes PROD_DRIFT_ROLE_ARN carries",
            "drift.yml:prod on workflow_dispatch assumes PROD_DRIFT_ROLE_ARN, but .github/aws/trust-drift-prod.json does not admit repository_id:REPOSITORY_ID:environment:prod-drift:job_workflow_ref:OWNER/REPO/.github/workflows/drift.yml@refs/heads/main:event_name:workflow_dispatch",
        ]);
    });

    it("fails a job that assumes a role its trust policy does not admit: a new trigger, another workflow's job", () => {
        const dispatched = mutated(deploy, "    branches: [main]\n", "    branches: [main]\n  workflow_dispatch:\n");
        expect(trustPolicyProblems(load(dispatched))).to.include.members([
            "deploy.yml:dev on workflow_dispatch assumes DEV_DEPLOY_ROLE_ARN, but .github/aws/trust-deploy-dev.json does not admit repository_id:REPOSITORY_ID:environment:dev:job_workflow_ref:OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main:event_name:workflow_dispatch",
        ]);
        const driftDeploys = mutated(drift, "aws-role-arn: ${{ vars.DEV_DRIFT_ROLE_ARN }}", "aws-role-arn: ${{ vars.DEV_DEPLOY_ROLE_ARN }}");
        expect(trustPolicyProblems(load(driftDeploys))).to.have.members([
            "drift.yml:dev on schedule assumes DEV_DEPLOY_ROLE_ARN, but .github/aws/trust-deploy-dev.json does not admit repository_id:REPOSITORY_ID:environment:dev:job_workflow_ref:OWNER/REPO/.github/workflows/drift.yml@refs/heads/main:event_name:schedule",
            "drift.yml:dev on workflow_dispatch assumes DEV_DEPLOY_ROLE_ARN, but .github/aws/trust-deploy-dev.json does not admit repository_id:REPOSITORY_ID:environment:dev:job_workflow_ref:OWNER/REPO/.github/workflows/drift.yml@refs/heads/main:event_name:workflow_dispatch",
            ".github/aws/trust-drift-dev.json admits repository_id:REPOSITORY_ID:environment:dev:job_workflow_ref:OWNER/REPO/.github/workflows/drift.yml@refs/heads/main:event_name:schedule, which no job that assumes DEV_DRIFT_ROLE_ARN carries",
            ".github/aws/trust-drift-dev.json admits repository_id:REPOSITORY_ID:environment:dev:job_workflow_ref:OWNER/REPO/.github/workflows/drift.yml@refs/heads/main:event_name:workflow_dispatch, which no job that assumes DEV_DRIFT_ROLE_ARN carries",
        ]);
    });

    it("fails a policy shaped otherwise: another principal or audience, a wildcard matched exactly, claims GitHub does not put in the subject", () => {
        const otherProvider = mutated(trust("deploy-prod"), "oidc-provider/token.actions.githubusercontent.com", "root");
        expect(trustPolicyProblems(load(otherProvider))).to.deep.equal([
            ".github/aws/trust-deploy-prod.json must trust GitHub's OIDC provider only, arn:aws:iam::ACCOUNT_ID:oidc-provider/token.actions.githubusercontent.com",
        ]);
        const otherAudience = mutated(trust("deploy-prod"), '"sts.amazonaws.com"', '"sigstore"');
        expect(trustPolicyProblems(load(otherAudience))).to.deep.equal([
            ".github/aws/trust-deploy-prod.json must require the audience sts.amazonaws.com with StringEquals",
        ]);
        const exactWildcard = mutated(trust("preview"), '"StringLike"', '"StringEquals"');
        expect(trustPolicyProblems(load(exactWildcard)).join("\n")).to.match(/must require the audience|StringLike only for a wildcard/);
        const defaultSubject = mutated(".github/aws/oidc-sub.json", '"use_default": false', '"use_default": true');
        expect(trustPolicyProblems(load(defaultSubject))).to.include("oidc-sub.json must set use_default: false");
        const noEvent = mutated(".github/aws/oidc-sub.json", ',\n    "event_name"', "");
        expect(trustPolicyProblems(load(noEvent)).length).to.be.above(10);
    });

    it("fails a trust policy the docs' roles table does not name, and a role a job assumes that it does not list", () => {
        const unlisted = new Map(real).set(trust("extra"), real.get(trust("preview"))!);
        expect(trustPolicyProblems(load(unlisted))).to.deep.equal([".github/aws/trust-extra.json is in no row of docs/ci-cd.md's roles table"]);
        const unknownRole = mutated(drift, "aws-role-arn: ${{ vars.DEV_DRIFT_ROLE_ARN }}", "aws-role-arn: ${{ vars.DEV_ADMIN_ROLE_ARN }}");
        expect(trustPolicyProblems(load(unknownRole))).to.include("drift.yml:dev assumes DEV_ADMIN_ROLE_ARN, which docs/ci-cd.md's roles table does not list");
    });
});
