import { ResourceValidation, ResourceValidationArgs, validateResourceOfType } from "@pulumi/policy";
import { Resource, Unwrap } from "@pulumi/pulumi";

/** A pure check of one resource's properties: one message per violation, none when it complies. */
export type Check<TProps> = (props: TProps, args: ResourceValidationArgs) => string[];

/**
 * Runs a pure check on every resource of one class and reports each message it returns. Keeping the checks pure lets
 * the tests call them directly, without the policy runtime.
 */
export function reportViolationsOf<TResource extends Resource, TArgs>(
    resourceClass: { new (name: string, args: TArgs, ...rest: any[]): TResource },
    check: Check<Unwrap<NonNullable<TArgs>>>,
): ResourceValidation {
    return validateResourceOfType(resourceClass, (props, args, reportViolation) => {
        for (const message of check(props, args)) reportViolation(message);
    });
}
