import { expect } from "chai";
import { imdsv2Violations } from "../rules/imdsv2";
import { analyze } from "./analyze";

const fix =
    'set it to "required" so the metadata service answers only IMDSv2 session-token requests, and a forged request ' +
    "(SSRF) cannot read the host role's credentials.";

describe("policy ec2-imdsv2-required", () => {
    const cases: { title: string; props: Parameters<typeof imdsv2Violations>[0]; violations: string[] }[] = [
        { title: "passes httpTokens required", props: { metadataOptions: { httpTokens: "required" } }, violations: [] },
        {
            title: "fails httpTokens optional",
            props: { metadataOptions: { httpTokens: "optional" } },
            violations: [`metadataOptions.httpTokens is "optional": ${fix}`],
        },
        {
            title: "fails metadataOptions without httpTokens",
            props: { metadataOptions: {} },
            violations: [`metadataOptions.httpTokens is not set, so IMDSv1 stays on: ${fix}`],
        },
        {
            title: "fails no metadataOptions at all",
            props: {},
            violations: [`metadataOptions.httpTokens is not set, so IMDSv1 stays on: ${fix}`],
        },
    ];
    for (const { title, props, violations } of cases) {
        it(title, () => expect(imdsv2Violations(props)).to.deep.equal(violations));
    }

    it("checks instances and launch templates, and nothing else", async () => {
        const optional = { metadataOptions: { httpTokens: "optional" } };
        const policyOf = async (type: string) =>
            (await analyze({ type, name: "x", inputs: optional }))
                .filter((violation) => violation.policy === "ec2-imdsv2-required")
                .map((violation) => violation.message);
        expect(await policyOf("aws:ec2/instance:Instance")).to.deep.equal([
            `metadataOptions.httpTokens is "optional": ${fix}`,
        ]);
        expect(await policyOf("aws:ec2/launchTemplate:LaunchTemplate")).to.have.length(1);
        expect(await policyOf("aws:ec2/eip:Eip")).to.deep.equal([]);
    });
});
