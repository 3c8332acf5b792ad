// What every TypeScript bench needs: its numeric options, the ESM helpers of bench/lib, its report and its entry point.
import * as path from "path";

/** The number after `--name` on the command line, or `fallback`. */
export function option(name: string, fallback: number): number {
    const index = process.argv.indexOf(`--${name}`);
    return index > 0 ? Number(process.argv[index + 1]) : fallback;
}

/** One of bench/lib's modules (ESM, so imported, not required). */
export const lib = (name: string) => import(path.join(__dirname, "..", "lib", name));

/** Runs a bench's `main`, then exits: 0, or 1 with the error's stack after `name`. */
export function runBench(name: string, main: () => Promise<void>): void {
    main().then(
        () => process.exit(0),
        (error) => {
            process.stderr.write(`${name}: ${error.stack}\n`);
            process.exit(1);
        },
    );
}

/** Prints the bench's figures: as JSON with `--json`, otherwise the lines `table` makes of them. */
export function report<Figures>(figures: Figures, table: (figures: Figures) => string[]): void {
    const text = process.argv.includes("--json") ? JSON.stringify(figures, null, 2) : table(figures).join("\n");
    process.stdout.write(`${text}\n`);
}
