import * as aws from "@pulumi/aws";
import { ResourceValidationPolicy } from "@pulumi/policy";
import { reportViolationsOf } from "../report";

const fix = "so the volume and its snapshots are encrypted at rest (add kmsKeyId for a customer-managed key).";

/** An instance's root volume and extra EBS volumes. An unset `encrypted` leaves it to the AMI, so it counts as off. */
export function instanceVolumeViolations(instance: {
    rootBlockDevice?: { encrypted?: boolean };
    ebsBlockDevices?: { deviceName: string; encrypted?: boolean }[];
}): string[] {
    const violations: string[] = [];
    if (instance.rootBlockDevice?.encrypted !== true) {
        violations.push(`rootBlockDevice.encrypted is not true: set rootBlockDevice.encrypted to true ${fix}`);
    }
    (instance.ebsBlockDevices ?? []).forEach((device, index) => {
        if (device.encrypted !== true) {
            violations.push(
                `ebsBlockDevices[${index}] (${device.deviceName}) is not encrypted: set its encrypted to true ${fix}`,
            );
        }
    });
    return violations;
}

/** A launch template's EBS mappings; the provider takes `encrypted` as the string "true". */
export function launchTemplateVolumeViolations(template: {
    blockDeviceMappings?: { deviceName?: string; ebs?: { encrypted?: string } }[];
}): string[] {
    const violations: string[] = [];
    (template.blockDeviceMappings ?? []).forEach((mapping, index) => {
        if (mapping.ebs && String(mapping.ebs.encrypted) !== "true") {
            violations.push(
                `blockDeviceMappings[${index}].ebs (${mapping.deviceName ?? "no deviceName"}) is not encrypted: ` +
                    `set ebs.encrypted to "true" ${fix}`,
            );
        }
    });
    return violations;
}

/** A standalone EBS volume. */
export function ebsVolumeViolations(volume: { encrypted?: boolean }): string[] {
    return volume.encrypted === true ? [] : [`encrypted is not true: set encrypted to true ${fix}`];
}

export const encryptedVolumes: ResourceValidationPolicy = {
    name: "ebs-volumes-encrypted",
    description:
        "EBS volumes are encrypted: an instance's rootBlockDevice and ebsBlockDevices, launch template EBS mappings " +
        "and standalone volumes must set encrypted.",
    enforcementLevel: "mandatory",
    validateResource: [
        reportViolationsOf(aws.ec2.Instance, instanceVolumeViolations),
        reportViolationsOf(aws.ec2.LaunchTemplate, launchTemplateVolumeViolations),
        reportViolationsOf(aws.ebs.Volume, ebsVolumeViolations),
    ],
};
