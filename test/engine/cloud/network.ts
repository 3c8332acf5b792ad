// The VPC of the rig's hosts, on this machine: a bridge that stands for the default VPC's network (moto's default VPC
// is 172.31.0.0/16, so each host gets the private address moto gave its instance), one network namespace per host,
// and Elastic IPs as AWS does them, by address translation at the edge: traffic to a public address is rewritten to
// the private address of the instance it is associated with, and moving the address moves new traffic at once.
import { spawn } from "child_process";

export const vpcCidr = "172.31.0.0/16";
/** The bridge's own address: the hosts' gateway, and where the rig's servers (AWS front, registry) listen for them. */
export const gatewayAddress = "172.31.0.1";

const bridge = "rigvpc0";
const natChain = "RIG-EIP";

/** Runs a command; a failure throws with its output unless `allowFailure`. */
export function sh(command: string, args: string[], allowFailure = false): Promise<string> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (chunk) => (output += chunk));
        child.stderr.on("data", (chunk) => (output += chunk));
        child.on("error", reject);
        child.on("close", (code) => {
            if (code === 0 || allowFailure) resolve(output);
            else reject(new Error(`${command} ${args.join(" ")} failed (${code}): ${output}`));
        });
    });
}

export class VpcNetwork {
    /** Each public address and the private address its traffic goes to. */
    private readonly translations = new Map<string, string>();
    private readonly namespaces = new Set<string>();

    /** Creates the bridge and the translation chain, after removing what an interrupted run left behind. */
    async start(): Promise<void> {
        await this.removeLeftovers();
        await sh("ip", ["link", "add", bridge, "type", "bridge"]);
        await sh("ip", ["addr", "add", `${gatewayAddress}/16`, "dev", bridge]);
        await sh("ip", ["link", "set", bridge, "up"]);
        // Docker engines on this machine set the FORWARD policy to DROP, which would stop traffic between hosts.
        await sh("iptables", ["-I", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"]);
        await sh("iptables", ["-t", "nat", "-N", natChain]);
        await sh("iptables", ["-t", "nat", "-I", "OUTPUT", "-j", natChain]);
    }

    /** A network namespace for a host, plugged into the VPC with its private address. */
    async addHost(namespace: string, privateIp: string): Promise<void> {
        const veth = `rv${namespace.slice(-8)}`;
        this.namespaces.add(namespace);
        await sh("ip", ["netns", "add", namespace]);
        await sh("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
        await sh("ip", ["link", "set", veth, "master", bridge, "up"]);
        await sh("ip", ["-n", namespace, "addr", "add", `${privateIp}/16`, "dev", "eth0"]);
        await sh("ip", ["-n", namespace, "link", "set", "eth0", "up"]);
        await sh("ip", ["-n", namespace, "link", "set", "lo", "up"]);
        await sh("ip", ["-n", namespace, "route", "add", "default", "via", gatewayAddress]);
    }

    async removeHost(namespace: string): Promise<void> {
        this.namespaces.delete(namespace);
        await sh("ip", ["netns", "del", namespace], true);
    }

    /** Sends a public address's traffic to a private address: what an Elastic IP association does. */
    async translate(publicIp: string, privateIp: string): Promise<void> {
        const previous = this.translations.get(publicIp);
        if (previous === privateIp) return;
        if (previous === undefined) await sh("ip", ["route", "replace", `${publicIp}/32`, "dev", bridge]);
        await sh("iptables", ["-t", "nat", "-A", natChain, "-d", publicIp, "-j", "DNAT", "--to-destination", privateIp]);
        if (previous !== undefined) {
            await sh("iptables", ["-t", "nat", "-D", natChain, "-d", publicIp, "-j", "DNAT", "--to-destination", previous]);
            await this.forgetConnections(publicIp);
        }
        this.translations.set(publicIp, privateIp);
    }

    /**
     * Connections made to the address before it moved no longer reach their host, as on AWS, where the translation
     * at the edge changes under them: their next packets are refused.
     */
    private async forgetConnections(publicIp: string): Promise<void> {
        await sh("conntrack", ["-D", "--orig-dst", publicIp], true);
    }

    /** Stops translating a public address: its traffic reaches nobody, as an unassociated Elastic IP. */
    async stopTranslating(publicIp: string): Promise<void> {
        const previous = this.translations.get(publicIp);
        if (previous === undefined) return;
        await sh("iptables", ["-t", "nat", "-D", natChain, "-d", publicIp, "-j", "DNAT", "--to-destination", previous]);
        await this.forgetConnections(publicIp);
        this.translations.delete(publicIp);
    }

    /** Where a public address's traffic goes now, if anywhere. */
    target(publicIp: string): string | undefined {
        return this.translations.get(publicIp);
    }

    async stop(): Promise<void> {
        for (const namespace of [...this.namespaces]) await this.removeHost(namespace);
        await this.removeLeftovers();
    }

    private async removeLeftovers(): Promise<void> {
        await sh("iptables", ["-t", "nat", "-D", "OUTPUT", "-j", natChain], true);
        await sh("iptables", ["-t", "nat", "-F", natChain], true);
        await sh("iptables", ["-t", "nat", "-X", natChain], true);
        await sh("iptables", ["-D", "FORWARD", "-i", bridge, "-o", bridge, "-j", "ACCEPT"], true);
        for (const route of (await sh("ip", ["route", "show", "dev", bridge], true)).split("\n")) {
            const destination = route.split(" ")[0];
            if (/^\d+\.\d+\.\d+\.\d+$/.test(destination)) await sh("ip", ["route", "del", `${destination}/32`], true);
        }
        await sh("ip", ["link", "del", bridge], true);
        for (const line of (await sh("ip", ["netns", "list"], true)).split("\n")) {
            const namespace = line.split(" ")[0];
            if (namespace.startsWith("righost-")) await sh("ip", ["netns", "del", namespace], true);
        }
    }
}
