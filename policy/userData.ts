import { gunzipSync } from "zlib";
import * as YAML from "yaml";

/** A user data document as the host will read it, with the resource property it came from. */
export interface UserDataText {
    property: string;
    text: string;
}

/** Base64 user data as text; cloud-init also accepts it gzipped, so a gzip payload is unpacked rather than skipped. */
function decodeBase64(value: string): string {
    const bytes = Buffer.from(value, "base64");
    const gzipped = bytes.length > 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
    return (gzipped ? gunzipSync(bytes) : bytes).toString("utf8");
}

/** An instance's user data: `userData` is plain text, `userDataBase64` is encoded. */
export function instanceUserData(props: { userData?: string; userDataBase64?: string }): UserDataText[] {
    const texts: UserDataText[] = [];
    if (props.userData) texts.push({ property: "userData", text: props.userData });
    if (props.userDataBase64) texts.push({ property: "userDataBase64", text: decodeBase64(props.userDataBase64) });
    return texts;
}

/** A launch template's user data, which EC2 takes base64-encoded. */
export function launchTemplateUserData(props: { userData?: string }): UserDataText[] {
    return props.userData ? [{ property: "userData", text: decodeBase64(props.userData) }] : [];
}

/**
 * The commands of a cloud-config's `runcmd` as shell lines: cloud-init runs a list entry as the words of one
 * command, so `[docker, pull, image]` is `docker pull image`. Other user data has none.
 */
export function cloudConfigCommands(text: string): string[] {
    if (!text.startsWith("#cloud-config")) return [];
    let document: unknown;
    try {
        document = YAML.parse(text);
    } catch {
        return [];
    }
    const runcmd = (document as { runcmd?: unknown } | null)?.runcmd;
    if (!Array.isArray(runcmd)) return [];
    return runcmd.map((entry) => (Array.isArray(entry) ? entry.map(String).join(" ") : String(entry)));
}
