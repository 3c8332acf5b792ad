// .github/scripts/select-stack.sh as .github/actions/prepare-stack runs it in CI, with the real Pulumi CLI on a file
// backend: the stack's images, who must have signed them, and a review stack's one deployer.
import { expect } from "chai";
import * as fs from "fs";
import * as path from "path";
import { project, root } from "../mocks";
import { ProjectCopy } from "../projectCopy";

const images = {
    TASKS_IMAGE: `docker.io/review/tasks@sha256:${"1".repeat(64)}`,
    REQUESTS_IMAGE: `docker.io/review/requests@sha256:${"2".repeat(64)}`,
};
const devDeployers = ["arn:aws:iam::111111111111:role/microservices-deployer", "arn:aws:iam::111111111111:user/alice"];
const reviewRole = "arn:aws:iam::222222222222:role/microservices-review";
const workflow = "https://github.com/acme/microservices/.github/workflows/deploy.yml@refs/heads/main";

describe(".github/scripts/select-stack.sh with the real Pulumi CLI", () => {
    let copy: ProjectCopy;
    beforeEach(() => {
        copy = new ProjectCopy();
        fs.mkdirSync(path.join(copy.dir, ".github", "scripts"), { recursive: true });
        fs.copyFileSync(path.join(root, ".github/scripts/select-stack.sh"), path.join(copy.dir, ".github/scripts/select-stack.sh"));
        copy.editStackConfig("dev", { [`${project}:deployerArns`]: devDeployers });
    });
    afterEach(() => copy.remove());

    const select = (environment: NodeJS.ProcessEnv) => {
        const result = copy.run(".github/scripts/select-stack.sh", [], { BACKEND_URL: copy.backend, ...environment });
        expect(result.status, result.stderr).to.equal(0);
        return copy.stackFile(String(environment.STACK)).config;
    };

    it("gives a new review stack dev's settings, the review role alone as its deployer, its images and their signer", () => {
        // As review-stack.yml writes it: dev's settings without dev's secrets provider.
        const devFile = copy.stackFileText("dev");
        copy.writeStackFile("pr-7", devFile.replace(/^(secretsprovider|encryptedkey|encryptionsalt):.*\n/gm, ""));
        const config = select({ STACK: "pr-7", SECRETS_PROVIDER: "passphrase", ...images, IMAGE_SIGNER: "none", DEPLOYER_ARN: reviewRole });
        expect(config[`${project}:deployerArns`]).to.deep.equal([reviewRole]);
        expect(config[`${project}:imageSigner`]).to.equal("none");
        expect(config[`${project}:tasksImage`]).to.equal(images.TASKS_IMAGE);
        expect(config[`${project}:requestsImage`]).to.equal(images.REQUESTS_IMAGE);
        expect(config[`${project}:instanceType`], "dev's other settings stay").to.equal("t3.micro");
    });

    it("leaves an existing stack's deployers as they are when none is given, and sets its signer", () => {
        copy.initStack("dev");
        const config = select({ STACK: "dev", ...images, IMAGE_SIGNER: workflow });
        expect(config[`${project}:deployerArns`]).to.deep.equal(devDeployers);
        expect(config[`${project}:imageSigner`]).to.equal(workflow);
    });
});
