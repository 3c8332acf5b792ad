import { ResourceValidationPolicy } from "@pulumi/policy";
import { encryptedVolumes } from "./rules/encryptedVolumes";
import { imagePinnedByDigest } from "./rules/imageDigest";
import { imdsv2Required } from "./rules/imdsv2";
import { kmsKeyPolicyLimitsDecrypt } from "./rules/kmsKeyPolicy";
import { kmsKeysRotate } from "./rules/kmsRotation";
import { noPublicSsh } from "./rules/noPublicSsh";
import { requiredTags } from "./rules/requiredTags";
import { ssmSecureStringCustomerKey } from "./rules/ssmCustomerKey";
import { ssmDocumentParametersSafe } from "./rules/ssmDocumentParameters";
import { ssmSecretsAreSecureString } from "./rules/ssmSecureString";
import { noSecretsInUserData } from "./rules/userDataSecrets";

/** Every policy of the pack, all mandatory. Kept apart from index.ts, whose PolicyPack starts a server on import. */
export const policies: ResourceValidationPolicy[] = [
    imdsv2Required,
    encryptedVolumes,
    noPublicSsh,
    noSecretsInUserData,
    ssmSecretsAreSecureString,
    requiredTags,
    imagePinnedByDigest,
    kmsKeysRotate,
    kmsKeyPolicyLimitsDecrypt,
    ssmSecureStringCustomerKey,
    ssmDocumentParametersSafe,
];
