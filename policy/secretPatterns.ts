/** One kind of secret-looking text: how a violation message names it, and how to spot it. */
interface SecretPattern {
    kind: string;
    /** Global, so every occurrence is found. */
    pattern: RegExp;
}

// Each pattern looks for a value, never a name: `REQUIRED_PARAMETERS=LOGSENE_TOKEN` or `$PASSWORD` must pass.
const secretPatterns: SecretPattern[] = [
    {
        kind: "a URI with credentials (scheme://user:password@host)",
        // The password part may not start with `$`: `postgres://app:${DB_PASSWORD}@db` is a reference, not a value.
        pattern: /\b[a-z][a-z0-9+.-]*:\/\/[^\s:@/"']+:(?!\$)[^\s@/"']+@/gi,
    },
    { kind: "a Docker Hub access token (dckr_pat_…)", pattern: /\bdckr_(?:pat|oat)_[A-Za-z0-9_-]{8,}/g },
    { kind: "an AWS access key id (AKIA…)", pattern: /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g },
    {
        kind: "a private key block (-----BEGIN … PRIVATE KEY-----)",
        pattern: /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/g,
    },
    {
        kind: "a password, token or secret assigned a value (password=…, token: …)",
        // A name ending in a secret word, `=` or `:`, then a literal on the same line: not empty, not `$VAR` or
        // `$(command)`, not a YAML block marker.
        pattern:
            /(?:^|[^A-Za-z0-9_])["']?[A-Za-z0-9_.-]*(?:password|passwd|passphrase|token|secret|api[_-]?key|access[_-]?key|private[_-]?key)["']?[ \t]*[=:][ \t]*["']?(?![$"'|>\s])\S/gim,
    },
];

/** A kind of secret-looking text found in a document, with the 1-based lines it is on. */
export interface SecretFinding {
    kind: string;
    lines: number[];
}

function lineOf(text: string, index: number): number {
    return text.slice(0, index).split("\n").length;
}

/** Every kind of secret-looking value in `text`, in a fixed order. Findings carry line numbers, never the value. */
export function findSecrets(text: string): SecretFinding[] {
    const findings: SecretFinding[] = [];
    for (const { kind, pattern } of secretPatterns) {
        const lines = new Set<number>();
        for (const match of text.matchAll(pattern)) {
            // A match may start with the newline before the name, so count the line of its last character.
            lines.add(lineOf(text, (match.index ?? 0) + match[0].length - 1));
        }
        if (lines.size > 0) findings.push({ kind, lines: [...lines] });
    }
    return findings;
}

/** "line 3" or "lines 3, 9". */
export function describeLines(lines: number[]): string {
    return `${lines.length === 1 ? "line" : "lines"} ${lines.join(", ")}`;
}
