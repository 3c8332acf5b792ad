// The AWS API endpoint of the rig: every client (the stand-in provider, the release waits in Pulumi's dynamic provider
// host, the hosts' release script and agent) talks to it. It records who called which action, answers the Systems
// Manager calls that moto does not have (managed nodes and State Manager associations) from the rig's own Systems
// Manager, and passes everything else to moto.
import * as http from "http";
import { AddressInfo } from "net";

/** One API call as IAM sees it: who made it, and the action. */
export interface RecordedCall {
    principal: string;
    /** IAM action, e.g. ssm:GetParameter. */
    action: string;
    /** The request's parameters (JSON protocol) or form fields (query protocol). */
    params: Record<string, unknown>;
}

/** An AWS error as the JSON protocol sends it. */
export class AwsError extends Error {
    constructor(
        readonly code: string,
        message: string,
        readonly status = 400,
    ) {
        super(message);
    }
}

type JsonHandler = (params: Record<string, unknown>, principal: string) => Promise<unknown>;

/** The IAM service prefix of a JSON protocol target, e.g. AmazonSSM.GetParameter. */
const targetPrefixes: Record<string, string> = { AmazonSSM: "ssm", TrentService: "kms" };

export class AwsFront {
    readonly calls: RecordedCall[] = [];
    /** Access key id to principal: an access key stands for one identity, as a session's credentials do. */
    readonly principals = new Map<string, string>();
    private readonly handlers = new Map<string, JsonHandler>();
    private server?: http.Server;
    endpoint = "";

    constructor(private readonly moto: string) {}

    /** Answers one JSON-protocol action (e.g. "ssm:CreateAssociation") here instead of in moto. */
    handle(action: string, handler: JsonHandler): void {
        this.handlers.set(action, handler);
    }

    /** The calls a principal made, in order. */
    callsBy(principal: string): RecordedCall[] {
        return this.calls.filter((call) => call.principal === principal);
    }

    async start(host: string): Promise<void> {
        this.server = http.createServer((request, response) => {
            const chunks: Buffer[] = [];
            request.on("data", (chunk) => chunks.push(chunk));
            request.on("end", () => this.serve(request, Buffer.concat(chunks), response));
        });
        await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
        this.endpoint = `http://${host}:${(this.server!.address() as AddressInfo).port}`;
    }

    stop(): Promise<void> {
        return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    }

    private serve(request: http.IncomingMessage, body: Buffer, response: http.ServerResponse): void {
        const authorization = String(request.headers.authorization ?? "");
        const [, accessKey = "", , , scopeService = ""] = /Credential=([^/]*)\/([^/]*)\/([^/]*)\/([^/]*)\//.exec(authorization) ?? [];
        const principal = this.principals.get(accessKey) ?? `unknown access key ${accessKey || "(none)"}`;
        const target = String(request.headers["x-amz-target"] ?? "");
        let action: string;
        let params: Record<string, unknown>;
        if (target) {
            const [prefix, name] = target.split(".");
            action = `${targetPrefixes[prefix] ?? prefix}:${name}`;
            params = body.length ? JSON.parse(body.toString()) : {};
        } else {
            const form = new URLSearchParams(body.toString());
            params = Object.fromEntries(form);
            action = `${scopeService}:${form.get("Action") ?? request.method}`;
        }
        this.calls.push({ principal, action, params });

        const handler = this.handlers.get(action);
        if (handler) {
            handler(params, principal).then(
                (answer) => {
                    response.writeHead(200, { "Content-Type": "application/x-amz-json-1.1" });
                    response.end(JSON.stringify(answer ?? {}));
                },
                (error: Error) => {
                    const code = error instanceof AwsError ? error.code : "InternalServerError";
                    response.writeHead(error instanceof AwsError ? error.status : 500, {
                        "Content-Type": "application/x-amz-json-1.1",
                        "x-amzn-ErrorType": code,
                    });
                    response.end(JSON.stringify({ __type: code, message: error.message }));
                },
            );
            return;
        }
        const upstream = http.request(this.moto, { method: request.method, path: request.url, headers: request.headers }, (reply) => {
            response.writeHead(reply.statusCode ?? 502, reply.headers);
            reply.pipe(response);
        });
        upstream.on("error", (error) => {
            response.writeHead(502);
            response.end(String(error));
        });
        upstream.end(body);
    }
}
