// Reads user data back the way cloud-init does.
import { expect } from "chai";
import * as YAML from "yaml";

export interface CloudConfig {
    write_files: { path: string; owner: string; permissions: string; content: string }[];
    runcmd: string[][];
}

/** Parses user data the way cloud-init does: a YAML document behind the #cloud-config header. */
export function parseUserData(userData: string): CloudConfig {
    expect(userData.startsWith("#cloud-config\n"), "cloud-init needs the header on the first line").to.equal(true);
    return YAML.parse(userData);
}

