// Caddy of the hosts' version (scripts/install.sh builds it), run on this machine with the config the release script
// renders for a host, in front of one upstream. Its ports are free ones; its data lives in its own folder.
import * as fs from "fs";
import * as path from "path";
import { defaultAwsCliImage, defaultProxyImage, HostTls, renderReleaseConfig } from "../../components/host/bootstrap";
import { proxyVersion } from "../../test/release/engine";
import { tool } from "../../test/tools";
import { lib } from "./cli";

/** The proxy's three ports (HTTPS, the redirect, and the service's own, plain HTTP for peers) and its process id. */
export interface HostProxy {
    httpsPort: number;
    httpPort: number;
    port: number;
    pid: number;
}

/** The HTTPS of a proxy whose certificate no bench looks at: a CA that refuses connections. */
export const noCertificateAuthority = { siteName: "127.0.0.2", publicIp: "127.0.0.2", acmeDirectory: "https://127.0.0.1:9/directory" };


/**
 * Starts the proxy for `service` in front of `upstream` (host:port) and waits until its service port answers.
 * `tls` is its site, address and CA; `env` is added to Caddy's environment (SSL_CERT_FILE, to trust a test CA).
 */
export async function startHostProxy(options: {
    workDir: string;
    service: string;
    upstream: string;
    tls: Pick<HostTls, "siteName" | "publicIp" | "acmeDirectory">;
    env?: NodeJS.ProcessEnv;
}): Promise<HostProxy> {
    const { freePort, runCommand, startProcess, waitFor } = await lib("processes.mjs");
    const ports = { httpsPort: await freePort(), httpPort: await freePort(), port: await freePort() };
    const folder = fs.mkdtempSync(path.join(options.workDir, `${options.service}-proxy-`));
    const paths = { config: path.join(folder, "release-service.env"), state: path.join(folder, "state"), run: path.join(folder, "run") };
    fs.mkdirSync(path.join(paths.run, "proxy"), { recursive: true });
    const host = {
        serviceName: options.service,
        port: ports.port,
        healthPath: "/health",
        region: "eu-west-1",
        recordPath: `/microservices/bench/${options.service}/releases`,
        proxyImage: defaultProxyImage,
        awsCliImage: defaultAwsCliImage,
        tls: {
            ...options.tls,
            storePath: `/microservices/bench/${options.service}/certificates`,
            storeKeyArn: `alias/microservices/bench/${options.service}`,
            httpsPort: ports.httpsPort,
            httpPort: ports.httpPort,
        },
    };
    fs.writeFileSync(paths.config, renderReleaseConfig(host, paths));
    const script = path.join(__dirname, "..", "..", "components", "release", "release-service.sh");
    const config = await runCommand("bash", [script, "proxy-config", options.upstream], {
        env: { ...process.env, RELEASE_CONFIG: paths.config },
    });
    fs.writeFileSync(path.join(folder, "caddy.json"), config);
    const env = { PATH: process.env.PATH, HOME: folder, XDG_CONFIG_HOME: folder, XDG_DATA_HOME: folder, ...options.env };
    const caddy = startProcess(`${options.service}-proxy`, tool(`caddy-${proxyVersion}`), ["run", "--config", path.join(folder, "caddy.json")], {
        cwd: folder,
        env,
        logFile: path.join(options.workDir, `${options.service}-proxy.log`),
    });
    await waitFor(`the ${options.service} proxy`, async () => (await fetch(`http://127.0.0.1:${ports.port}/health`)).status === 200);
    return { ...ports, pid: caddy.pid };
}
