#!/usr/bin/env bash
# Shows where a service's release stands on its host: the outcome the host recorded for its last release (with the
# reason and the new container's last log lines when it failed), then the host's live state: the release it serves,
# its containers and the current container's last log lines.
#   scripts/release-status.sh STACK SERVICE
# Needs the Pulumi CLI (logged in to the stack's backend) and the AWS CLI with credentials for the stack's account.
set -euo pipefail

usage="usage: scripts/release-status.sh STACK SERVICE   (SERVICE: tasks or requests)"
stack=${1:?$usage}
service=${2:?$usage}
[[ $service =~ ^[a-z][a-z0-9-]*$ ]] || {
  echo "$usage" >&2
  exit 2
}
cd "$(dirname "$0")/.."

fail() {
  echo "release-status: $*" >&2
  exit 1
}

command -v pulumi >/dev/null || fail "the Pulumi CLI is not installed: https://www.pulumi.com/docs/install/"
command -v aws >/dev/null || fail "the AWS CLI is not installed: https://docs.aws.amazon.com/cli/"

project=$(sed -n 's/^name: *//p' Pulumi.yaml)
region=$(pulumi config get --stack "$stack" aws:region) || fail "stack $stack has no aws:region"
instance=$(pulumi stack output --stack "$stack" "${service}InstanceId" 2>/dev/null) ||
  fail "stack $stack has no output ${service}InstanceId: has it been deployed?"
record="/$project/$stack/$service/releases/$instance"

echo "== $service on $instance ($stack, $region)"
echo "-- last release, as the host recorded it ($record):"
aws ssm get-parameter --region "$region" --name "$record" --query Parameter.Value --output text ||
  echo "(no record: the host has not run a release yet)"

echo "-- the host now:"
command_id=$(aws ssm send-command --region "$region" --instance-ids "$instance" \
  --document-name AWS-RunShellScript --comment "release-status $stack $service" \
  --parameters 'commands=["/usr/local/bin/release-service status"]' --query Command.CommandId --output text) ||
  fail "could not run a command on $instance; open a shell with: aws ssm start-session --region $region --target $instance"
aws ssm wait command-executed --region "$region" --command-id "$command_id" --instance-id "$instance" || true
aws ssm get-command-invocation --region "$region" --command-id "$command_id" --instance-id "$instance" \
  --query '[StandardOutputContent, StandardErrorContent]' --output text
echo "-- a shell on the host: aws ssm start-session --region $region --target $instance"
