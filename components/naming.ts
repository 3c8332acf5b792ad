/** The SSM Parameter Store path that holds one service's secrets: unique to project, stack and service. */
export function parameterPath(project: string, stack: string, service: string): string {
    return `/${project}/${stack}/${service}`;
}

/** The SSM path under which a service's hosts record their releases' outcomes, one parameter per instance. */
export function releaseRecordPath(project: string, stack: string, service: string): string {
    return `${parameterPath(project, stack, service)}/releases`;
}

/** Tags on every resource of a service. `extra` cannot override the ones that identify it. */
export function serviceTags(
    project: string,
    stack: string,
    service: string,
    extra: Record<string, string> = {},
): Record<string, string> {
    return { ...extra, project, stack, service, Name: `${project}-${stack}-${service}` };
}

/** The name an image is pushed under on Docker Hub. */
export function dockerHubImageName(repository: string, tag: string): string {
    return `docker.io/${repository}:${tag}`;
}
