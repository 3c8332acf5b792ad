/** CPU platforms the images can be built for; each maps to a matching EC2 architecture. */
export const platforms = ["linux/amd64", "linux/arm64"] as const;
export type Platform = (typeof platforms)[number];

/**
 * AWS's public SSM parameter that names the current ECS-optimized Amazon Linux 2023 AMI: Amazon Linux with Docker
 * already installed, so nothing is installed at boot.
 */
export function amiParameterName(platform: Platform): string {
    const variant = platform === "linux/arm64" ? "arm64/" : "";
    return `/aws/service/ecs/optimized-ami/amazon-linux-2023/${variant}recommended/image_id`;
}

/** The architecture an instance type runs: Graviton families carry a `g` after their generation (t4g, m7gd, c6gn). */
export function instanceArchitecture(instanceType: string): "arm64" | "x86_64" {
    const family = instanceType.split(".")[0];
    return family === "a1" || /\d[a-z]*g/.test(family) ? "arm64" : "x86_64";
}

/** The architecture an image platform needs from its host. */
export function platformArchitecture(platform: Platform): "arm64" | "x86_64" {
    return platform === "linux/arm64" ? "arm64" : "x86_64";
}
