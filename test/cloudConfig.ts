// Reads user data back the way EC2 and cloud-init do.
import { expect } from "chai";
import { gunzipSync, gzipSync } from "zlib";
import * as YAML from "yaml";

export interface CloudConfig {
    write_files: { path: string; owner: string; permissions: string; content: string }[];
    runcmd: string[][];
}

/** The document cloud-init reads from an instance's `userDataBase64`: base64, then gzip (cloud-init unpacks it). */
export function decodeUserData(userDataBase64: string): string {
    const bytes = Buffer.from(userDataBase64, "base64");
    expect([bytes[0], bytes[1]], "user data must be gzip").to.deep.equal([0x1f, 0x8b]);
    return gunzipSync(bytes).toString("utf8");
}

/** A document as `userDataBase64`, for handing a changed copy to the policies. */
export function encodeUserData(text: string): string {
    return gzipSync(Buffer.from(text, "utf8")).toString("base64");
}

/** Parses user data the way cloud-init does: a YAML document behind the #cloud-config header. */
export function parseUserData(userData: string): CloudConfig {
    expect(userData.startsWith("#cloud-config\n"), "cloud-init needs the header on the first line").to.equal(true);
    return YAML.parse(userData);
}
