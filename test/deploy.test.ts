import { expect } from "chai";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { root } from "./mocks";
import { run } from "./tools";

describe("scripts/deploy.sh", () => {
    it("stops with a clear message when the Pulumi CLI is missing", () => {
        // A PATH with only what the script needs before its first check, and no pulumi.
        const bin = fs.mkdtempSync(path.join(os.tmpdir(), "bin-"));
        for (const command of ["bash", "dirname"]) fs.symlinkSync(`/usr/bin/${command}`, path.join(bin, command));
        const result = run("/usr/bin/bash", [path.join(root, "scripts", "deploy.sh"), "dev"], { PATH: bin, HOME: bin });
        expect(result.status).to.equal(1);
        expect(result.stderr).to.equal("deploy: the Pulumi CLI is not installed: https://www.pulumi.com/docs/install/\n");
    });
});
