// The gRPC face of the stand-in AWS provider: what the Pulumi engine calls when PULUMI_DEBUG_PROVIDERS names our port
// for `aws`. It turns the engine's protobuf messages into plain objects and back, and leaves every decision to the
// provider behind it. The Node SDK's own provider server sends no changed keys with a diff, so the engine could not
// apply `replaceOnChanges`; the real provider (tfbridge) does, and so does this one.
import * as grpc from "@grpc/grpc-js";

const emptyProto = require("google-protobuf/google/protobuf/empty_pb");
const structProto = require("google-protobuf/google/protobuf/struct_pb");
const pluginProto = require("@pulumi/pulumi/proto/plugin_pb");
const providerProto = require("@pulumi/pulumi/proto/provider_pb");
const providerService = require("@pulumi/pulumi/proto/provider_grpc_pb").ResourceProviderService;

/** The value the engine sends for a property that is not known yet (a preview, or an output of a pending resource). */
export const unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type Properties = Record<string, unknown>;

export interface CheckFailure {
    property: string;
    reason: string;
}

export interface DiffAnswer {
    /** Top-level input properties whose values differ. */
    diffs: string[];
    /** Those among them that force a replacement. */
    replaces: string[];
    deleteBeforeReplace?: boolean;
}

/** One engine request about one resource. */
export interface ResourceCall {
    urn: string;
    type: string;
    name: string;
}

/** What the stand-in implements. Properties are plain JSON, with `unknown` where the engine does not know a value. */
export interface StandInProvider {
    version: string;
    invoke(token: string, args: Properties): Promise<{ result?: Properties; failures?: CheckFailure[] }>;
    check(call: ResourceCall, olds: Properties, news: Properties, randomSeed: Buffer): Promise<{ inputs: Properties; failures: CheckFailure[] }>;
    diff(call: ResourceCall, id: string, olds: Properties, news: Properties, oldInputs: Properties): Promise<DiffAnswer>;
    create(call: ResourceCall, inputs: Properties, preview: boolean): Promise<{ id: string; outs: Properties }>;
    read(call: ResourceCall, id: string, state: Properties, inputs: Properties): Promise<{ id: string; outs: Properties; inputs: Properties } | undefined>;
    update(call: ResourceCall, id: string, olds: Properties, news: Properties, preview: boolean): Promise<Properties>;
    delete(call: ResourceCall, id: string, outs: Properties): Promise<void>;
}

const toJs = (struct: { toJavaScript(): Properties } | undefined): Properties => struct?.toJavaScript() ?? {};
const toStruct = (value: Properties) => structProto.Struct.fromJavaScript(JSON.parse(JSON.stringify(value)));

function failureList(failures: CheckFailure[]) {
    return failures.map((failure) => new providerProto.CheckFailure().setProperty(failure.property).setReason(failure.reason));
}

type Callback = (error: Error | null, value?: unknown) => void;
type Handler = (request: any) => Promise<unknown>;

/** Wraps an async handler as a gRPC unary method; a thrown error reaches the engine with its message. */
function unary(handler: Handler) {
    return (call: { request: unknown }, callback: Callback) => {
        handler(call.request).then(
            (response) => callback(null, response),
            (error: Error) => callback({ ...error, code: grpc.status.UNKNOWN, details: error.message, message: error.message } as Error),
        );
    };
}

function unimplemented(_call: unknown, callback: Callback) {
    callback({ code: grpc.status.UNIMPLEMENTED, details: "not implemented by the stand-in provider" } as unknown as Error);
}

function resourceCall(request: { getUrn(): string; getType(): string; getName(): string }): ResourceCall {
    const urn = request.getUrn();
    return { urn, type: request.getType() || urn.split("::")[2].split("$").pop()!, name: request.getName() || urn.split("::")[3] };
}

/** Serves the provider on a loopback port; returns the port and a function that stops the server. */
export async function serveProvider(provider: StandInProvider): Promise<{ port: number; stop(): Promise<void> }> {
    const server = new grpc.Server();
    server.addService(providerService, {
        handshake: unimplemented,
        parameterize: unimplemented,
        call: unimplemented,
        list: unimplemented,
        construct: unimplemented,
        getMapping: unimplemented,
        getMappings: unimplemented,
        getSchema: unary(async () => new providerProto.GetSchemaResponse().setSchema("{}")),
        getPluginInfo: unary(async () => new pluginProto.PluginInfo().setVersion(provider.version)),
        attach: unary(async () => new emptyProto.Empty()),
        cancel: unary(async () => new emptyProto.Empty()),
        checkConfig: unary(async (request) => new providerProto.CheckResponse().setInputs(toStruct(toJs(request.getNews())))),
        diffConfig: unary(async () =>
            new providerProto.DiffResponse().setChanges(providerProto.DiffResponse.DiffChanges.DIFF_NONE),
        ),
        // Secrets reach the provider as plain values; the engine keeps them secret in the state.
        configure: unary(async () =>
            new providerProto.ConfigureResponse().setAcceptsecrets(false).setSupportspreview(true).setAcceptresources(false),
        ),
        invoke: unary(async (request) => {
            const { result, failures } = await provider.invoke(request.getTok(), toJs(request.getArgs()));
            const response = new providerProto.InvokeResponse();
            if (result) response.setReturn(toStruct(result));
            if (failures) response.setFailuresList(failureList(failures));
            return response;
        }),
        check: unary(async (request) => {
            const seed = Buffer.from(request.getRandomseed_asU8());
            const { inputs, failures } = await provider.check(resourceCall(request), toJs(request.getOlds()), toJs(request.getNews()), seed);
            return new providerProto.CheckResponse().setInputs(toStruct(inputs)).setFailuresList(failureList(failures));
        }),
        diff: unary(async (request) => {
            const answer = await provider.diff(
                resourceCall(request),
                request.getId(),
                toJs(request.getOlds()),
                toJs(request.getNews()),
                toJs(request.getOldInputs()),
            );
            const { DiffChanges } = providerProto.DiffResponse;
            const { Kind } = providerProto.PropertyDiff;
            const response = new providerProto.DiffResponse()
                .setChanges(answer.diffs.length > 0 ? DiffChanges.DIFF_SOME : DiffChanges.DIFF_NONE)
                .setDiffsList(answer.diffs)
                .setReplacesList(answer.replaces)
                .setDeletebeforereplace(Boolean(answer.deleteBeforeReplace))
                .setHasdetaileddiff(true);
            const detailed = response.getDetaileddiffMap();
            for (const key of answer.diffs) {
                const kind = answer.replaces.includes(key) ? Kind.UPDATE_REPLACE : Kind.UPDATE;
                detailed.set(key, new providerProto.PropertyDiff().setKind(kind).setInputdiff(true));
            }
            return response;
        }),
        create: unary(async (request) => {
            const { id, outs } = await provider.create(resourceCall(request), toJs(request.getProperties()), request.getPreview());
            return new providerProto.CreateResponse().setId(id).setProperties(toStruct(outs));
        }),
        read: unary(async (request) => {
            const found = await provider.read(
                resourceCall(request),
                request.getId(),
                toJs(request.getProperties()),
                toJs(request.getInputs()),
            );
            const response = new providerProto.ReadResponse();
            if (found) response.setId(found.id).setProperties(toStruct(found.outs)).setInputs(toStruct(found.inputs));
            return response;
        }),
        update: unary(async (request) => {
            const outs = await provider.update(
                resourceCall(request),
                request.getId(),
                toJs(request.getOlds()),
                toJs(request.getNews()),
                request.getPreview(),
            );
            return new providerProto.UpdateResponse().setProperties(toStruct(outs));
        }),
        delete: unary(async (request) => {
            await provider.delete(resourceCall(request), request.getId(), toJs(request.getProperties()));
            return new emptyProto.Empty();
        }),
    });
    const port = await new Promise<number>((resolve, reject) =>
        server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
            error ? reject(error) : resolve(bound),
        ),
    );
    return { port, stop: () => new Promise((resolve) => server.tryShutdown(() => resolve())) };
}
