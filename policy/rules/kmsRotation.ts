import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";

/**
 * A symmetric encryption key rotates its key material. Asymmetric and HMAC keys cannot rotate, so they pass; an unset
 * key spec means SYMMETRIC_DEFAULT, as in KMS.
 */
export function kmsRotationViolations(key: {
    enableKeyRotation?: boolean;
    customerMasterKeySpec?: string;
    keyUsage?: string;
}): string[] {
    const spec = key.customerMasterKeySpec ?? "SYMMETRIC_DEFAULT";
    const usage = key.keyUsage ?? "ENCRYPT_DECRYPT";
    if (spec !== "SYMMETRIC_DEFAULT" || usage !== "ENCRYPT_DECRYPT" || key.enableKeyRotation === true) return [];
    const actual = key.enableKeyRotation === undefined ? "is not set, so the key never rotates" : "is false";
    return [
        `enableKeyRotation ${actual}: set enableKeyRotation to true so KMS rotates the key material every year ` +
            "(rotationPeriodInDays), and a leaked copy of today's material stops covering new data.",
    ];
}

export const kmsKeysRotate: ResourceValidationPolicy = {
    name: "kms-keys-rotate",
    description: "Symmetric KMS keys rotate their key material: enableKeyRotation must be true.",
    enforcementLevel: "mandatory",
    validateResource: reportViolationsOf(aws.kms.Key, kmsRotationViolations),
};
