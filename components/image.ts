import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { dockerHubImageName } from "./naming";
import { Platform } from "./platform";

/** An image to build from a folder and push to Docker Hub. */
export interface ImageBuild {
    /** Folder holding the service's Dockerfile: the build context, relative to the project. */
    context: string;
    /** Docker Hub repository, `namespace/name`. */
    repository: string;
    /** Tag pushed beside the digest; hosts always run the digest. @default the stack name */
    tag?: string;
    /** Docker Hub credentials used to push. The token should be a secret. */
    registry: { username: pulumi.Input<string>; token: pulumi.Input<string> };
}

/**
 * The image a service runs: built and pushed here, or one that was built and pushed before (CI's build, or the
 * digest another stack runs), given pinned by digest. Rolling back is giving the previous digest.
 */
export type ImageSource = { build: ImageBuild } | { digest: pulumi.Input<string> };

/** The image's `repository@sha256:…`, building and pushing it first when it is to be built. */
export function serviceImage(
    name: string,
    source: ImageSource,
    platform: Platform,
    parent: pulumi.Resource,
): pulumi.Output<string> {
    if ("digest" in source) return pulumi.output(source.digest);
    const { context, repository, tag, registry } = source.build;
    const image = new docker.Image(
        `${name}-image`,
        {
            imageName: dockerHubImageName(repository, tag ?? pulumi.getStack()),
            build: { context, dockerfile: `${context}/Dockerfile`, platform },
            registry: { server: "docker.io", username: registry.username, password: registry.token },
        },
        { parent },
    );
    return image.repoDigest;
}
