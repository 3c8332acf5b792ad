// Reads the GitHub workflows, composite actions and scripts as data, and works out what each job can reach: the
// environments it runs in, the secrets and variables it references, the roles it assumes, the commands it runs and
// its concurrency groups. Reusable workflows and composite actions are followed with their inputs filled in.
// The settings' scopes (repository, or an environment) come from the table in docs/ci-cd.md.
import * as fs from "fs";
import * as path from "path";
import * as YAML from "yaml";
import { root } from "./mocks";

/** Every file the analysis reads, by path from the repository root; mutated copies stand in for the real ones. */
export type Files = Map<string, string>;

export function readRepositoryFiles(): Files {
    const files: Files = new Map();
    const add = (relative: string) => files.set(relative, fs.readFileSync(path.join(root, relative), "utf8"));
    for (const folder of [".github/workflows", ".github/scripts"]) {
        for (const name of fs.readdirSync(path.join(root, folder)).sort()) add(`${folder}/${name}`);
    }
    for (const name of fs.readdirSync(path.join(root, ".github/aws")).sort()) {
        if (name.endsWith(".json")) add(`.github/aws/${name}`);
    }
    for (const name of fs.readdirSync(path.join(root, ".github/actions")).sort()) {
        for (const file of ["action.yml", "action.yaml"]) {
            if (fs.existsSync(path.join(root, ".github/actions", name, file))) add(`.github/actions/${name}/${file}`);
        }
    }
    add("docs/ci-cd.md");
    return files;
}

/** Where a secret or variable is stored: "repository", or the name of an environment. */
export interface Setting {
    kind: "secret" | "variable";
    name: string;
    scope: string;
}

export interface Environment {
    name: string;
    /** Only main may deploy to it (a deployment branch rule), or any branch. */
    mainOnly: boolean;
    reviewers: boolean;
    /** A job that a pull request can start may run in it (the table's "pull requests" column). */
    pullRequests: boolean;
}

/** The settings and environments tables of docs/ci-cd.md: the one list of what to create, which the tests hold to. */
export function readInventory(docs: string): { settings: Setting[]; environments: Environment[] } {
    const settings: Setting[] = [];
    const environments: Environment[] = [];
    for (const line of docs.split("\n")) {
        const cells = line.split("|").map((cell) => cell.trim());
        if (cells.length < 5 || !line.startsWith("|")) continue;
        const [, first, second, third] = cells;
        if (first === "secret" || first === "variable") {
            const scope = /^environment `([^`]+)`$/.exec(third)?.[1] ?? (third === "repository" ? "repository" : "");
            if (!scope) throw new Error(`docs/ci-cd.md: "${third}" is neither repository nor environment \`NAME\``);
            for (const [, name] of second.matchAll(/`([A-Z0-9_]+)`/g)) settings.push({ kind: first, name, scope });
        }
        const environment = /^`([a-z-]+)`$/.exec(first);
        if (environment && (second === "main" || second === "any branch")) {
            environments.push({
                name: environment[1],
                mainOnly: second === "main",
                reviewers: third.startsWith("required"),
                pullRequests: cells[4] === "yes",
            });
        }
    }
    return { settings, environments };
}

type Yaml = Record<string, any>;

/** One job as it runs: where it comes from, and everything it can reach. */
export interface JobReach {
    /** e.g. "pull-request.yml > tests > tests.yml:images". */
    path: string;
    workflow: string;
    triggers: string[];
    environment?: string;
    secrets: Set<string>;
    variables: Set<string>;
    /** The role-to-assume of each configure-aws-credentials step, with inputs filled in. */
    roles: string[];
    /** Shell run by the job, with the scripts it calls inlined. */
    commands: string;
    /** Concurrency of the job, then of its workflows (caller first), as written. */
    concurrency: { group: string; cancelInProgress: unknown }[];
    /** Inputs given to each local composite action, by action path. */
    actionInputs: { action: string; inputs: Record<string, string> }[];
    /** Every `uses:` value of its steps and calls. */
    uses: string[];
    /** What the analysis could not follow, or found unsafe on its own (secrets: inherit, computed names). */
    problems: string[];
    /** The `ref:` and `repository:` of each actions/checkout step, as written. */
    checkouts: { ref?: string; repository?: string }[];
    /** Each `${{ }}` expanded inside a `run:` script (script injection: pass it through env instead). */
    runExpressions: string[];
    /** The job's `permissions:` (the workflow's when it sets none), as written. */
    permissions: Record<string, string> | string | undefined;
    /** The `env:` of the job and its workflow, as written. */
    env: Record<string, unknown>;
}

const expression = /\$\{\{([\s\S]*?)\}\}/g;

/** Replaces `${{ inputs.X }}` and `${{ matrix.X }}` with their values, until none is left to replace. */
function resolve(text: string, values: Record<string, Record<string, string>>): string {
    let current = text;
    for (let round = 0; round < 5; round++) {
        const next = current.replace(
            /\$\{\{\s*(inputs|matrix)\.([A-Za-z0-9_-]+)\s*\}\}/g,
            (whole, scope, key) => values[scope]?.[key] ?? whole,
        );
        if (next === current) return next;
        current = next;
    }
    return current;
}

/** Every string of a YAML value, deep. */
function strings(value: unknown): string[] {
    if (typeof value === "string") return [value];
    if (Array.isArray(value)) return value.flatMap(strings);
    if (value && typeof value === "object") return Object.values(value).flatMap(strings);
    return [];
}

/** Secret and variable names an expression reads, and whether it reads either context in a way names can't say. */
function contextReads(
    text: string,
    isCondition: boolean,
): { secrets: string[]; variables: string[]; dynamic: string[] } {
    const bodies = [...text.matchAll(expression)].map((match) => match[1]);
    if (isCondition && bodies.length === 0) bodies.push(text);
    const found = { secrets: [] as string[], variables: [] as string[], dynamic: [] as string[] };
    for (const body of bodies) {
        for (const [context, into] of [
            ["secrets", found.secrets],
            ["vars", found.variables],
        ] as const) {
            for (const match of body.matchAll(
                new RegExp(`\\b${context}\\b(\\.([A-Za-z0-9_]+)|\\[\\s*'([A-Za-z0-9_]+)'\\s*\\])?`, "g"),
            )) {
                const name = match[2] ?? match[3];
                if (name) into.push(name.toUpperCase());
                else found.dynamic.push(body.trim());
            }
        }
    }
    return found;
}

/** The workflow's triggers; a push that only main's branch can start is `push:main`. */
function triggersOf(workflow: Yaml): string[] {
    const on = workflow.on;
    if (typeof on === "string") return [on];
    if (Array.isArray(on)) return on;
    return Object.entries<Yaml | null>(on ?? {}).map(([name, spec]) => {
        const branches = spec?.branches;
        const mainOnly =
            Array.isArray(branches) && branches.length > 0 && branches.every((b) => b === "main") && !spec?.tags;
        return name === "push" && mainOnly ? "push:main" : name;
    });
}

function parse(files: Files, file: string): Yaml {
    const text = files.get(file);
    if (text === undefined) throw new Error(`${file} does not exist`);
    return YAML.parse(text);
}

/** The shell a job runs: its run blocks, and the text of each .github/scripts file they (or those scripts) call. */
function withScripts(files: Files, shell: string): string {
    const seen = new Set<string>();
    let all = shell;
    let pending = shell;
    while (pending) {
        let next = "";
        for (const [, script] of pending.matchAll(/(\.github\/scripts\/[A-Za-z0-9_.-]+\.sh)/g)) {
            if (seen.has(script)) continue;
            seen.add(script);
            next += `\n${files.get(script) ?? ""}`;
        }
        for (const [, script] of pending.matchAll(/\$\(dirname "\$0"\)\/([A-Za-z0-9_.-]+\.sh)/g)) {
            const full = `.github/scripts/${script}`;
            if (seen.has(full)) continue;
            seen.add(full);
            next += `\n${files.get(full) ?? ""}`;
        }
        all += next;
        pending = next;
    }
    return all;
}

/** Follows a job's steps, entering local composite actions with their inputs filled in. */
function walkSteps(files: Files, steps: Yaml[], values: Record<string, Record<string, string>>, reach: JobReach) {
    for (const step of steps ?? []) {
        if (typeof step?.run === "string") {
            reach.runExpressions.push(...[...step.run.matchAll(expression)].map((match) => match[0]));
        }
        const resolved = YAML.parse(resolve(YAML.stringify(step), values)) as Yaml;
        collect(resolved, reach, ["if"]);
        const uses: string | undefined = resolved.uses;
        if (uses) reach.uses.push(uses);
        if (uses?.startsWith("actions/checkout@")) {
            reach.checkouts.push({ ref: resolved.with?.ref, repository: resolved.with?.repository });
        }
        if (typeof resolved.run === "string") reach.commands += `\n${resolved.run}`;
        if (uses?.startsWith("aws-actions/configure-aws-credentials@"))
            reach.roles.push(resolved.with?.["role-to-assume"] ?? "");
        if (uses?.startsWith("./")) {
            const file = [`${uses.slice(2)}/action.yml`, `${uses.slice(2)}/action.yaml`].find((f) => files.has(f)) ?? "";
            const action = parse(files, file);
            const inputs: Record<string, string> = {};
            for (const [name, spec] of Object.entries<Yaml>(action.inputs ?? {})) {
                const given = resolved.with?.[name];
                inputs[name] = given === undefined ? String(spec?.default ?? "") : String(given);
            }
            reach.actionInputs.push({ action: uses.slice(2), inputs });
            walkSteps(files, action.runs?.steps ?? [], { inputs }, reach);
        }
    }
}

function collect(value: Yaml, reach: JobReach, conditionKeys: string[]) {
    for (const [key, inner] of Object.entries(value ?? {})) {
        if (key === "steps" || key === "jobs") continue;
        for (const text of strings(inner)) {
            const reads = contextReads(text, conditionKeys.includes(key));
            reads.secrets.forEach((name) => reach.secrets.add(name));
            reads.variables.forEach((name) => reach.variables.add(name));
            for (const dynamic of reads.dynamic)
                reach.problems.push(`reads secrets or vars by a computed name: ${dynamic}`);
        }
    }
}

/** A job's matrix as its combinations: the product of its lists, then its `include:` entries. */
function combinations(matrix: Yaml | undefined): Record<string, string>[] {
    if (!matrix) return [{}];
    const { include, exclude: _exclude, ...lists } = matrix;
    let all: Record<string, string>[] = [{}];
    for (const [key, values] of Object.entries<unknown[]>(lists)) {
        all = all.flatMap((combination) => values.map((value) => ({ ...combination, [key]: String(value) })));
    }
    const extra: Record<string, string>[] = include ?? [];
    return Object.keys(lists).length ? [...all, ...extra] : extra.length ? extra : [{}];
}

/** Every job a workflow runs, following calls into reusable workflows. */
function jobsOf(
    files: Files,
    file: string,
    context: {
        path: string;
        root: string;
        triggers: string[];
        inputs: Record<string, string>;
        concurrency: JobReach["concurrency"];
        inheritedSecrets: boolean;
    },
): JobReach[] {
    const workflow = parse(files, file);
    const concurrencyOf = (value: unknown) =>
        value === undefined
            ? []
            : typeof value === "string"
              ? [{ group: value, cancelInProgress: false }]
              : [{ group: String((value as Yaml).group), cancelInProgress: (value as Yaml)["cancel-in-progress"] }];
    const workflowConcurrency = [
        ...context.concurrency,
        ...concurrencyOf(workflow.concurrency).map((c) => ({
            ...c,
            group: resolve(c.group, { inputs: context.inputs }),
        })),
    ];
    const all: JobReach[] = [];
    for (const [id, job] of Object.entries<Yaml>(workflow.jobs ?? {})) {
        for (const matrix of combinations(job.strategy?.matrix)) {
            const values = {
                inputs: context.inputs,
                matrix: Object.fromEntries(Object.entries(matrix).map(([k, v]) => [k, String(v)])),
            };
            const resolved = YAML.parse(resolve(YAML.stringify({ ...job, steps: undefined }), values)) as Yaml;
            const name = Object.keys(matrix).length ? `${id} (${Object.values(matrix).join(", ")})` : id;
            const reach: JobReach = {
                path: `${context.path}${path.basename(file)}:${name}`,
                workflow: context.root,
                triggers: context.triggers,
                environment:
                    typeof resolved.environment === "object" ? resolved.environment?.name : resolved.environment,
                secrets: new Set(),
                variables: new Set(),
                roles: [],
                commands: "",
                concurrency: [...concurrencyOf(resolved.concurrency), ...workflowConcurrency],
                actionInputs: [],
                uses: [],
                problems: [],
                checkouts: [],
                runExpressions: [],
                permissions: job.permissions ?? workflow.permissions,
                env: { ...(workflow.env ?? {}), ...(job.env ?? {}) },
            };
            if (reach.environment?.includes("${{"))
                reach.problems.push(`its environment cannot be worked out: ${reach.environment}`);
            if (context.inheritedSecrets) reach.problems.push("gets every repository secret through secrets: inherit");
            collect(resolved, reach, ["if"]);
            walkSteps(files, job.steps ?? [], values, reach);
            reach.commands = withScripts(files, reach.commands);
            if (typeof resolved.uses === "string") {
                reach.uses.push(resolved.uses);
                if (!resolved.uses.startsWith("./") && resolved.secrets === "inherit") {
                    reach.problems.push(`passes every secret to a workflow of another repository: ${resolved.uses}`);
                }
                if (resolved.uses.startsWith("./")) {
                    const inputs = Object.fromEntries(
                        Object.entries<unknown>(resolved.with ?? {}).map(([k, v]) => [k, String(v)]),
                    );
                    const called = jobsOf(files, resolved.uses.slice(2), {
                        path: `${context.path}${path.basename(file)} > ${id} > `,
                        root: context.root,
                        triggers: context.triggers,
                        inputs,
                        concurrency: [...concurrencyOf(resolved.concurrency), ...workflowConcurrency],
                        inheritedSecrets: context.inheritedSecrets || resolved.secrets === "inherit",
                    });
                    // The caller's own expressions (with:, secrets:) reach the called jobs.
                    for (const job of called) {
                        reach.secrets.forEach((s) => job.secrets.add(s));
                        reach.variables.forEach((v) => job.variables.add(v));
                        job.problems.push(...reach.problems);
                    }
                    all.push(...called);
                    continue;
                }
            }
            all.push(reach);
        }
    }
    return all;
}

/** Every job of every workflow that GitHub starts by itself (not workflow_call only), as it runs. */
export function allJobs(files: Files): JobReach[] {
    const jobs: JobReach[] = [];
    for (const file of [...files.keys()].filter((f) => /^\.github\/workflows\/[^/]+\.ya?ml$/.test(f))) {
        const triggers = triggersOf(parse(files, file));
        if (triggers.every((trigger) => trigger === "workflow_call")) continue;
        jobs.push(
            ...jobsOf(files, file, {
                path: "",
                root: path.basename(file),
                triggers,
                inputs: {},
                concurrency: [],
                inheritedSecrets: false,
            }),
        );
    }
    return jobs;
}

export interface Repository {
    files: Files;
    jobs: JobReach[];
    settings: Setting[];
    environments: Environment[];
}

export function load(files: Files): Repository {
    return { files, jobs: allJobs(files), ...readInventory(files.get("docs/ci-cd.md") ?? "") };
}

/** Triggers that run main's workflow, and so pass main-only environments, on an event a pull request controls. */
const onMainForPullRequests = [
    "pull_request_target",
    "issue_comment",
    "workflow_run",
    "issues",
    "discussion",
    "discussion_comment",
];
/** Triggers that run the workflow of a pull request or of any branch: main-only environments refuse their jobs. */
const onBranches = [
    "pull_request",
    "pull_request_review",
    "pull_request_review_comment",
    "merge_group",
    "push",
    "workflow_dispatch",
    "create",
    "delete",
    "release",
];

/** Whether the job can run a pull request's or a branch's own workflow (and so its code): no main-only gate stops it. */
function runsBranchCode(repo: Repository, job: JobReach): boolean {
    const environment = repo.environments.find((e) => e.name === job.environment);
    return job.triggers.some((t) => onBranches.includes(t)) && !environment?.mainOnly;
}

/** Whether someone who can open a pull request or push a branch can start the job and have it run. */
export function pullRequestCanStart(repo: Repository, job: JobReach): boolean {
    return job.triggers.some((t) => onMainForPullRequests.includes(t)) || runsBranchCode(repo, job);
}
const isProdEnvironment = (name?: string) => name === "prod" || Boolean(name?.startsWith("prod-"));
const isProd = (setting: Setting) => isProdEnvironment(setting.scope) || setting.name.startsWith("PROD_");
const isDeployerRole = (name: string) => /DEPLOY_ROLE/.test(name);

function readsOf(repo: Repository, job: JobReach): { name: string; setting?: Setting; kind: string }[] {
    const find = (kind: Setting["kind"], name: string) =>
        repo.settings.find((setting) => setting.kind === kind && setting.name === name);
    return [
        ...[...job.secrets].map((name) => ({ name, kind: "secret", setting: find("secret", name) })),
        ...[...job.variables].map((name) => ({ name, kind: "variable", setting: find("variable", name) })),
    ];
}

/**
 * Jobs started by a pull request reach no prod setting, no deployer role, no environment that main alone may use, and
 * no setting of such an environment; they assume roles named by variables only, and get no inherited secrets.
 */
export function pullRequestReachProblems(repo: Repository): string[] {
    const open = repo.environments.filter((e) => e.pullRequests).map((e) => e.name);
    const problems: string[] = [];
    for (const job of repo.jobs.filter((j) => pullRequestCanStart(repo, j))) {
        problems.push(...job.problems.map((problem) => `${job.path} ${problem}`));
        for (const { ref, repository } of job.checkouts) {
            if (ref !== undefined || repository !== undefined) {
                problems.push(`${job.path} checks out ${repository ?? "this repository"} at ${ref ?? "its default"}`);
            }
        }
        if (runsBranchCode(repo, job) && job.permissions && typeof job.permissions === "object") {
            for (const [scope, level] of Object.entries(job.permissions)) {
                if (level === "write" && scope !== "id-token") {
                    problems.push(`${job.path} holds ${scope}: write while it runs a pull request's own code`);
                }
            }
        }
        if (job.environment && !open.includes(job.environment)) {
            problems.push(`${job.path} runs in environment ${job.environment}, which pull requests must not reach`);
        }
        for (const { name, kind, setting } of readsOf(repo, job)) {
            if (!setting) continue;
            if (isProd(setting)) problems.push(`${job.path} reaches prod's ${kind} ${name}`);
            else if (isDeployerRole(name)) problems.push(`${job.path} reaches the deployer's role (${kind} ${name})`);
            else if (setting.scope !== "repository" && !open.includes(setting.scope)) {
                problems.push(`${job.path} reaches ${kind} ${name} of environment ${setting.scope}`);
            }
        }
        for (const role of job.roles) {
            const name = /^\$\{\{\s*vars\.([A-Z0-9_]+)\s*\}\}$/.exec(role)?.[1];
            if (!name) problems.push(`${job.path} assumes a role that no variable names: ${role}`);
        }
    }
    return problems;
}

/**
 * Every secret and variable a job reads is listed in docs/ci-cd.md, and one stored in an environment is read only by
 * jobs in that environment (elsewhere it would be empty); every listed one is read somewhere.
 */
export function settingProblems(repo: Repository): string[] {
    const problems: string[] = [];
    const read = new Set<string>();
    for (const job of repo.jobs) {
        for (const { name, kind, setting } of readsOf(repo, job)) {
            read.add(`${kind} ${name}`);
            if (!setting) problems.push(`${job.path} reads ${kind} ${name}, which docs/ci-cd.md does not list`);
            else if (setting.scope !== "repository" && setting.scope !== job.environment) {
                problems.push(
                    `${job.path} reads ${kind} ${name} of environment ${setting.scope} but runs in ` +
                        `${job.environment ? `environment ${job.environment}` : "no environment"}`,
                );
            }
        }
    }
    for (const setting of repo.settings) {
        if (!read.has(`${setting.kind} ${setting.name}`)) {
            problems.push(`docs/ci-cd.md lists ${setting.kind} ${setting.name}, which no workflow reads`);
        }
    }
    for (const environment of new Set(repo.jobs.map((job) => job.environment).filter(Boolean))) {
        if (!repo.environments.some((e) => e.name === environment)) {
            problems.push(`environment ${environment} is used but docs/ci-cd.md does not list it`);
        }
    }
    return problems;
}

/** A job that reaches a prod setting or the prod deployer runs in environment prod, and prod only on main. */
export function prodJobProblems(repo: Repository): string[] {
    const problems: string[] = [];
    for (const job of repo.jobs) {
        const prodReads = readsOf(repo, job).filter(({ setting }) => setting && isProd(setting));
        if (prodReads.length > 0 && !isProdEnvironment(job.environment)) {
            problems.push(
                `${job.path} reaches ${prodReads.map((r) => r.name).join(", ")} but runs in no prod environment`,
            );
        }
    }
    const prod = repo.environments.find((e) => e.name === "prod");
    if (!prod?.mainOnly || !prod.reviewers) problems.push("docs/ci-cd.md must make prod main-only, with reviewers");
    for (const environment of repo.environments.filter((e) => isProdEnvironment(e.name))) {
        if (!environment.mainOnly || environment.pullRequests) {
            problems.push(`docs/ci-cd.md must make ${environment.name} main-only, closed to pull requests`);
        }
    }
    return problems;
}

/** No `${{ }}` is expanded inside a `run:` script, where a value could inject shell: env passes it instead. */
export function scriptInjectionProblems(repo: Repository): string[] {
    return repo.jobs.flatMap((job) =>
        [...new Set(job.runExpressions)].map((e) => `${job.path} expands ${e} inside run: (pass it through env:)`),
    );
}

/** Secrets reach the steps that need them only: never a job's or a workflow's env:, which every step sees. */
export function secretEnvironmentProblems(repo: Repository): string[] {
    return repo.jobs.flatMap((job) =>
        Object.entries(job.env)
            .filter(([, value]) => /\bsecrets\./.test(String(value)))
            .map(([name]) => `${job.path} puts a secret in the env: of every step (${name})`),
    );
}

/** A job that holds a secret or an OIDC token installs packages without running their install scripts. */
export function installScriptProblems(repo: Repository): string[] {
    const privileged = (job: JobReach) =>
        job.secrets.size > 0 ||
        (typeof job.permissions === "object" && job.permissions?.["id-token"] === "write");
    return repo.jobs
        .filter(privileged)
        .flatMap((job) =>
            job.commands
                .split("\n")
                .filter((line) => /\bnpm (ci|install|i)\b/.test(line) && !line.includes("--ignore-scripts"))
                .map((line) => `${job.path} runs install scripts while it holds a secret: ${line.trim()}`),
        );
}

/** Every `uses:` value of a workflow or action file (any YAML style), with its line and the comment on that line. */
function usesOf(text: string): { value: string; line: number; comment: string }[] {
    const found: { value: string; line: number; comment: string }[] = [];
    const lines = text.split("\n");
    YAML.visit(YAML.parseDocument(text), {
        Pair(_, pair) {
            if (!YAML.isScalar(pair.key) || pair.key.value !== "uses" || !YAML.isScalar(pair.value)) return;
            const [start, end] = pair.value.range ?? [0, 0];
            const line = text.slice(0, start).split("\n").length;
            const rest = lines[line - 1].slice(end - (text.lastIndexOf("\n", start - 1) + 1));
            found.push({ value: String(pair.value.value), line, comment: /#(.*)$/.exec(rest)?.[1]?.trim() ?? "" });
        },
    });
    return found;
}

/** Every `uses:` names a full commit SHA with its version in a comment, the same pin wherever an action is used. */
export function pinProblems(files: Files): string[] {
    const problems: string[] = [];
    const pins = new Map<string, string>();
    for (const [file, text] of files) {
        if (!/^\.github\/(workflows|actions)\/.*\.ya?ml$/.test(file)) continue;
        for (const { value, line, comment } of usesOf(text)) {
            if (value.startsWith("./")) continue;
            const where = `${file}:${line}`;
            const pinned = /^([A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+)@([0-9a-f]{40})$/.exec(value);
            if (!pinned) {
                problems.push(`${where} uses ${value}, which is not pinned to a full 40-hex commit SHA`);
                continue;
            }
            const version = /^(v?\d+(?:\.\d+)*)$/.exec(comment)?.[1];
            if (!version) problems.push(`${where} pins ${value} without its version in a comment (# vX.Y.Z)`);
            const pin = `${pinned[2]} # ${version}`;
            const earlier = pins.get(pinned[1]);
            if (earlier && earlier !== pin) problems.push(`${where} pins ${pinned[1]} to ${pin}, elsewhere ${earlier}`);
            pins.set(pinned[1], pin);
        }
    }
    return problems;
}

const deploys = (job: JobReach) => /\bpulumi (up|destroy)\b/.test(job.commands);
const checks = (job: JobReach) => !deploys(job) && /\bpulumi (preview|refresh)\b/.test(job.commands);

/** Whether two concurrency groups, with ${{ }} parts standing for any text, could ever be the same string. */
export function groupsMayMeet(a: string, b: string): boolean {
    const literal = (group: string) => !group.includes("${{");
    if (literal(a) && literal(b)) return a === b;
    const prefix = (group: string) => group.split("${{")[0];
    const suffix = (group: string) => group.split("}}").pop() ?? "";
    const compatible = (x: string, y: string, test: (long: string, short: string) => boolean) =>
        x.length >= y.length ? test(x, y) : test(y, x);
    return (
        compatible(prefix(a), prefix(b), (long, short) => long.startsWith(short)) &&
        compatible(literal(a) ? a : suffix(a), literal(b) ? b : suffix(b), (long, short) => long.endsWith(short))
    );
}

/**
 * Deploys (pulumi up or destroy) run in a concurrency group that never cancels them, and that no preview or drift
 * check (pulumi preview or refresh) can share.
 */
export function concurrencyProblems(repo: Repository): string[] {
    const problems: string[] = [];
    const checkGroups = repo.jobs
        .filter(checks)
        .flatMap((job) => job.concurrency.map((c) => ({ job, group: c.group })));
    for (const job of repo.jobs.filter(deploys)) {
        if (job.concurrency.length === 0) problems.push(`${job.path} deploys without a concurrency group`);
        for (const { group, cancelInProgress } of job.concurrency) {
            if (cancelInProgress !== false && cancelInProgress !== undefined) {
                problems.push(`${job.path} deploys in group ${group} with cancel-in-progress: ${cancelInProgress}`);
            }
            for (const other of checkGroups.filter((c) => groupsMayMeet(group, c.group))) {
                problems.push(
                    `${job.path} deploys in group ${group}, which ${other.job.path} can share (${other.group})`,
                );
            }
        }
    }
    return problems;
}

/** The roles table of docs/ci-cd.md: the variable that names each role, and the file of its trust policy. */
export function readRoleTable(docs: string): { variable: string; trust: string }[] {
    const roles: { variable: string; trust: string }[] = [];
    for (const line of docs.split("\n")) {
        const cells = line.split("|").map((cell) => cell.trim());
        const variable = /^`([A-Z0-9_]+_ROLE_ARN)`$/.exec(cells[2] ?? "")?.[1];
        const trust = /\(\.\.\/(\.github\/aws\/trust-[a-z-]+\.json)\)/.exec(cells[3] ?? "")?.[1];
        if (variable && trust) roles.push({ variable, trust });
    }
    return roles;
}

/** The ref a job's token names for an event: a pull request's merge ref, or main (every other trigger here runs main). */
const refOf = (event: string) => (event.startsWith("pull_request") && event !== "pull_request_target" ? "refs/pull/*/merge" : "refs/heads/main");

/**
 * The OIDC subject a job's token carries on an event, built from .github/aws/oidc-sub.json's claim keys as GitHub
 * builds it: `context` is the environment, else `pull_request` for a pull request's run, else the ref.
 */
function subjectOf(job: JobReach, event: string, claimKeys: string[]): string {
    const file = /([^ >]+\.ya?ml):[^>]*$/.exec(job.path)?.[1] ?? job.workflow;
    const ref = refOf(event);
    const claims: Record<string, string> = {
        repository_id: "REPOSITORY_ID",
        context: job.environment ? `environment:${job.environment}` : ref.startsWith("refs/pull/") ? "pull_request" : `ref:${ref}`,
        job_workflow_ref: `OWNER/REPO/.github/workflows/${file}@${ref}`,
        event_name: event,
    };
    return claimKeys.map((key) => (key === "context" ? claims.context : `${key}:${claims[key] ?? `<${key}?>`}`)).join(":");
}

const githubProvider = "arn:aws:iam::ACCOUNT_ID:oidc-provider/token.actions.githubusercontent.com";
const subjectKey = "token.actions.githubusercontent.com:sub";
const audienceKey = "token.actions.githubusercontent.com:aud";

/**
 * Every trust policy (.github/aws/trust-*.json) admits exactly the OIDC subjects of the jobs that assume its role,
 * derived from the workflows (environment, workflow file and ref, event, repository id), and nothing else: one
 * statement, GitHub's provider, the STS audience, a wildcard only where a pull request's ref puts one.
 */
export function trustPolicyProblems(repo: Repository): string[] {
    const problems: string[] = [];
    const table = readRoleTable(repo.files.get("docs/ci-cd.md") ?? "");
    const claimSettings = JSON.parse(repo.files.get(".github/aws/oidc-sub.json") ?? "{}");
    if (claimSettings.use_default !== false) problems.push("oidc-sub.json must set use_default: false");
    const claimKeys: string[] = claimSettings.include_claim_keys ?? [];
    for (const file of [...repo.files.keys()].filter((f) => /^\.github\/aws\/trust-[^/]+\.json$/.test(f))) {
        if (!table.some((role) => role.trust === file)) problems.push(`${file} is in no row of docs/ci-cd.md's roles table`);
    }
    for (const job of repo.jobs) {
        for (const role of job.roles) {
            const variable = /^\$\{\{\s*vars\.([A-Z0-9_]+)\s*\}\}$/.exec(role)?.[1];
            if (variable && !table.some((row) => row.variable === variable)) {
                problems.push(`${job.path} assumes ${variable}, which docs/ci-cd.md's roles table does not list`);
            }
        }
    }
    const trusts = new Map<string, string[]>();
    for (const { variable, trust } of table) trusts.set(trust, [...(trusts.get(trust) ?? []), variable]);
    for (const [file, variables] of trusts) {
        const text = repo.files.get(file);
        if (text === undefined) {
            problems.push(`docs/ci-cd.md names ${file}, which does not exist`);
            continue;
        }
        const expected = new Map<string, string>();
        for (const job of repo.jobs.filter((j) => j.roles.some((r) => variables.some((v) => r.includes(`vars.${v}`))))) {
            for (const trigger of job.triggers) {
                const event = trigger === "push:main" ? "push" : trigger;
                expected.set(subjectOf(job, event, claimKeys), `${job.path} on ${event}`);
            }
        }
        const policy = JSON.parse(text);
        const statements: any[] = policy.Statement ?? [];
        if (statements.length !== 1) problems.push(`${file} must hold exactly one statement`);
        const statement = statements[0] ?? {};
        if (statement.Effect !== "Allow" || statement.Action !== "sts:AssumeRoleWithWebIdentity") {
            problems.push(`${file} must allow sts:AssumeRoleWithWebIdentity only`);
        }
        if (JSON.stringify(statement.Principal) !== JSON.stringify({ Federated: githubProvider })) {
            problems.push(`${file} must trust GitHub's OIDC provider only, ${githubProvider}`);
        }
        const condition: Record<string, Record<string, unknown>> = statement.Condition ?? {};
        const operators = Object.keys(condition).sort();
        if (operators.some((operator) => operator !== "StringEquals" && operator !== "StringLike")) {
            problems.push(`${file} uses condition operators ${operators.join(", ")}; only StringEquals and StringLike`);
        }
        if (condition.StringEquals?.[audienceKey] !== "sts.amazonaws.com") {
            problems.push(`${file} must require the audience sts.amazonaws.com with StringEquals`);
        }
        for (const [operator, keys] of Object.entries(condition)) {
            for (const key of Object.keys(keys ?? {})) {
                if (key !== subjectKey && !(operator === "StringEquals" && key === audienceKey)) {
                    problems.push(`${file} conditions on ${operator} ${key}; only the subject and the audience`);
                }
            }
        }
        const admitted = new Map<string, string>();
        for (const operator of ["StringEquals", "StringLike"]) {
            for (const subject of ([] as string[]).concat((condition[operator]?.[subjectKey] as string[]) ?? [])) {
                admitted.set(subject, operator);
            }
        }
        for (const [subject, operator] of admitted) {
            if (!expected.has(subject)) {
                problems.push(`${file} admits ${subject}, which no job that assumes ${variables.join(" or ")} carries`);
            } else if ((operator === "StringLike") !== /[*?]/.test(subject)) {
                problems.push(`${file} matches ${subject} with ${operator}; StringLike only for a wildcard`);
            }
        }
        for (const [subject, where] of expected) {
            if (!admitted.has(subject)) problems.push(`${where} assumes ${variables.join(" or ")}, but ${file} does not admit ${subject}`);
        }
    }
    return problems;
}

/** The image signer a job gives its stack through prepare-stack, and the stack; undefined when it selects none. */
function stackInputs(job: JobReach): { stack: string; signer: string } | undefined {
    const inputs = job.actionInputs.find((given) => given.action === ".github/actions/prepare-stack")?.inputs;
    return inputs?.stack ? { stack: inputs.stack, signer: inputs["image-signer"] ?? "" } : undefined;
}

/**
 * The hosts of every stack CI releases require the signature of the workflow that signed its images: the very
 * workflow (its `workflow_ref`), which signs on pushes to main only, as the hosts check (a push). Previews name the
 * same signer; a stack whose images no job signs (a review stack's) says `none`.
 */
export function signerProblems(repo: Repository): string[] {
    const problems: string[] = [];
    const signs = (job: JobReach) => /^\s*\.github\/scripts\/sign-image\.sh /m.test(job.commands);
    const signingWorkflows = [...new Set(repo.jobs.filter(signs).map((job) => job.workflow))];
    for (const job of repo.jobs.filter(signs)) {
        if (job.triggers.some((trigger) => trigger !== "push:main")) {
            problems.push(`${job.path} signs on ${job.triggers.join(", ")}; the hosts accept a push to main's signature only`);
        }
    }
    // The jobs that run the program (a refresh or a destroy does not, and reads no setting).
    for (const job of repo.jobs.filter((j) => /\bpulumi (up|preview)\b/.test(j.commands))) {
        const given = stackInputs(job);
        if (!given) continue;
        const expected = signingWorkflows.includes(job.workflow)
            ? "https://github.com/${{ github.workflow_ref }}"
            : /\bpulumi up\b/.test(job.commands)
              ? "none"
              : signingWorkflows.map((file) => `https://github.com/\${{ github.repository }}/.github/workflows/${file}@refs/heads/main`)[0];
        if (given.signer !== expected) {
            problems.push(`${job.path} gives stack ${given.stack} the image signer "${given.signer}"; it must be "${expected}"`);
        }
    }
    if (signingWorkflows.length !== 1) problems.push(`images are signed in ${signingWorkflows.length} workflows; one signs them all`);
    return problems;
}
