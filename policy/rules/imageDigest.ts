import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";
import { cloudConfigCommands, instanceUserData, launchTemplateUserData, UserDataText } from "../userData";

/**
 * Helper images that may be pinned by an exact version tag instead of a digest: official tool images that run
 * beside the service and never ship its code. The service image itself must always be pinned by digest.
 */
export const versionPinnedHelperImages = ["public.ecr.aws/aws-cli/aws-cli", "caddy"];

const digestPinned = /^[^\s@]+@sha256:[0-9a-f]{64}$/;
/** major.minor.patch: `2.31.23` names one release, where `2` or `latest` move. */
const exactVersion = /^v?\d+\.\d+\.\d+([-+.][0-9A-Za-z.-]+)?$/;

/** An image reference split into repository and tag; the tag is after the last ":" that follows the last "/". */
function repositoryAndTag(image: string): { repository: string; tag?: string } {
    const match = /^(.*?)(?::([^:/]+))?$/.exec(image);
    return { repository: match?.[1] ?? image, tag: match?.[2] };
}

function isPinned(image: string): boolean {
    if (digestPinned.test(image)) return true;
    const { repository, tag } = repositoryAndTag(image);
    return versionPinnedHelperImages.includes(repository) && exactVersion.test(tag ?? "");
}

/** The violation for an unpinned image; `what` says where user data names it. */
function unpinnedMessage(property: string, what: string, image: string): string {
    const { repository } = repositoryAndTag(image.split("@")[0]);
    if (versionPinnedHelperImages.includes(repository)) {
        return (
            `${property} ${what}, which is pinned neither by digest nor by an exact version tag: ` +
            `pin it as ${repository}@sha256:<digest>, or by a major.minor.patch tag such as :2.31.23.`
        );
    }
    return (
        `${property} ${what}, which is not pinned by digest: reference it as repository@sha256:<digest> ` +
        "(docker.Image's repoDigest) so the host runs exactly the image that was built and tested."
    );
}

/** `NAME=value` settings of image variables (IMAGE, AWS_CLI_IMAGE…), in a unit, an env file or a script. */
function imageSettings(text: string): { name: string; image: string }[] {
    return [...text.matchAll(/\b([A-Z0-9_]*IMAGE)=["']?([^\s"']+)/g)]
        .map((match) => ({ name: match[1], image: match[2] }))
        .filter(({ image }) => !image.startsWith("$"));
}

// Flags of `docker run`/`create` that take no value; every other flag without "=" takes the next word.
const booleanFlags = new Set([
    "-d",
    "--detach",
    "--rm",
    "-i",
    "--interactive",
    "-t",
    "--tty",
    "--init",
    "--privileged",
    "--read-only",
    "-P",
    "--publish-all",
    "-q",
    "--quiet",
    "--no-healthcheck",
    "--oom-kill-disable",
    "--disable-content-trust",
]);

/** The image word of a docker command's arguments: the first word that is neither a flag nor a flag's value. */
function imageArgument(words: string[]): string | undefined {
    for (let index = 0; index < words.length; index++) {
        const word = words[index];
        if (!word.startsWith("-")) return word;
        const combinedShortFlags = /^-[a-zA-Z]{2,}$/.test(word);
        if (!booleanFlags.has(word) && !combinedShortFlags && !word.includes("=")) index++;
    }
    return undefined;
}

/** Images written literally in `docker run`, `docker create` or `docker pull` commands, outside comments. */
function dockerCommandImages(text: string): string[] {
    const images: string[] = [];
    for (const line of text.replace(/\\\n\s*/g, " ").split("\n")) {
        if (line.trim().startsWith("#")) continue;
        const command = /(?:^|[\s/;&|(`"'=])docker\s+(?:container\s+|image\s+)?(?:run|create|pull)\s+(.*)$/.exec(line);
        if (!command) continue;
        const words = command[1].split(/\s+/).map((word) => word.replace(/^["']|["']$/g, ""));
        const image = imageArgument(words);
        // A variable ("$IMAGE") is judged where it is set.
        if (image && !image.includes("$")) images.push(image);
    }
    return images;
}

/** Every image user data runs must be pinned by digest; listed helper images may use an exact version tag. */
export function imageDigestViolations(texts: UserDataText[]): string[] {
    return texts.flatMap(({ property, text }) => [
        ...imageSettings(text)
            .filter(({ image }) => !isPinned(image))
            .map(({ name, image }) => unpinnedMessage(property, `sets ${name} to ${image}`, image)),
        ...[text, ...cloudConfigCommands(text)]
            .flatMap(dockerCommandImages)
            .filter((image) => !isPinned(image))
            .map((image) => unpinnedMessage(property, `runs ${image} with docker`, image)),
    ]);
}

/** A release's `image` parameter: the service image itself, so only a digest will do. */
export function releaseImageViolations(parameters: Record<string, string> | undefined): string[] {
    const image = parameters?.image;
    if (image === undefined || digestPinned.test(image)) return [];
    return [unpinnedMessage("parameters.image", "releases " + image, image)];
}

export const imagePinnedByDigest: ResourceValidationPolicy = {
    name: "host-image-pinned-by-digest",
    description:
        "Images a host runs are pinned by digest: the image an SSM association releases, and those in user data " +
        "(IMAGE=… settings and docker run/create/pull commands); only the helper images " +
        `${versionPinnedHelperImages.join(", ")} may use an exact version tag instead.`,
    enforcementLevel: "mandatory",
    validateResource: [
        reportViolationsOf(aws.ec2.Instance, (instance) => imageDigestViolations(instanceUserData(instance))),
        reportViolationsOf(aws.ec2.LaunchTemplate, (template) =>
            imageDigestViolations(launchTemplateUserData(template)),
        ),
        reportViolationsOf(aws.ssm.Association, (association) => releaseImageViolations(association.parameters)),
    ],
};
