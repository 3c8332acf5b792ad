import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

// Run by the Pulumi CLI: `pulumi preview --policy-pack policy`. The version comes from package.json.
new PolicyPack("microservices-guardrails", { enforcementLevel: "mandatory", policies });
