import { expect } from "chai";
import {
    ebsVolumeViolations,
    instanceVolumeViolations,
    launchTemplateVolumeViolations,
} from "../rules/encryptedVolumes";
import { analyze } from "./analyze";

const fix = "so the volume and its snapshots are encrypted at rest (add kmsKeyId for a customer-managed key).";
const rootMessage = `rootBlockDevice.encrypted is not true: set rootBlockDevice.encrypted to true ${fix}`;

describe("policy ebs-volumes-encrypted", () => {
    describe("instances", () => {
        const cases: { title: string; props: Parameters<typeof instanceVolumeViolations>[0]; violations: string[] }[] =
            [
                {
                    title: "passes an encrypted root and EBS volume",
                    props: {
                        rootBlockDevice: { encrypted: true },
                        ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: true }],
                    },
                    violations: [],
                },
                {
                    title: "fails an unencrypted root volume",
                    props: { rootBlockDevice: { encrypted: false } },
                    violations: [rootMessage],
                },
                { title: "fails a root volume left to the AMI's default", props: {}, violations: [rootMessage] },
                {
                    title: "fails an unencrypted extra EBS volume",
                    props: {
                        rootBlockDevice: { encrypted: true },
                        ebsBlockDevices: [{ deviceName: "/dev/sdf", encrypted: true }, { deviceName: "/dev/sdg" }],
                    },
                    violations: [`ebsBlockDevices[1] (/dev/sdg) is not encrypted: set its encrypted to true ${fix}`],
                },
            ];
        for (const { title, props, violations } of cases) {
            it(title, () => expect(instanceVolumeViolations(props)).to.deep.equal(violations));
        }
    });

    describe("launch templates", () => {
        it("passes encrypted EBS mappings and mappings without EBS", () => {
            const props = {
                blockDeviceMappings: [
                    { deviceName: "/dev/xvda", ebs: { encrypted: "true" } },
                    { deviceName: "/dev/sdb" },
                ],
            };
            expect(launchTemplateVolumeViolations(props)).to.deep.equal([]);
        });
        it("fails an EBS mapping with encryption off", () => {
            const props = { blockDeviceMappings: [{ deviceName: "/dev/xvda", ebs: { encrypted: "false" } }] };
            expect(launchTemplateVolumeViolations(props)).to.deep.equal([
                `blockDeviceMappings[0].ebs (/dev/xvda) is not encrypted: set ebs.encrypted to "true" ${fix}`,
            ]);
        });
    });

    describe("standalone EBS volumes", () => {
        it("passes an encrypted volume", () => expect(ebsVolumeViolations({ encrypted: true })).to.deep.equal([]));
        it("fails an unencrypted volume", () => {
            expect(ebsVolumeViolations({})).to.deep.equal([`encrypted is not true: set encrypted to true ${fix}`]);
        });
    });

    it("reports through the pack for each type it covers", async () => {
        const messages = async (type: string, inputs: Record<string, unknown>) =>
            (await analyze({ type, name: "x", inputs }))
                .filter((violation) => violation.policy === "ebs-volumes-encrypted")
                .map((violation) => violation.message);
        expect(await messages("aws:ec2/instance:Instance", {})).to.deep.equal([rootMessage]);
        expect(await messages("aws:ebs/volume:Volume", { encrypted: false })).to.have.length(1);
        expect(
            await messages("aws:ec2/launchTemplate:LaunchTemplate", { blockDeviceMappings: [{ ebs: {} }] }),
        ).to.deep.equal([
            `blockDeviceMappings[0].ebs (no deviceName) is not encrypted: set ebs.encrypted to "true" ${fix}`,
        ]);
    });
});
