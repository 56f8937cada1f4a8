// The AWS SDK for JavaScript v3 drives skiffd's ECS API as a user's program would: a client
// pointed at skiffd with the `endpoint` option, credentials and region from the SDK's default
// provider chain. Run by tests/e2e/aws_sdk_e2e_test.cc, configured only by the environment:
//   SKIFF_ENDPOINT               skiffd's AWS API, "http://127.0.0.1:PORT"
//   SKIFF_IMAGE                  an image skiffd has loaded (the e2e fixture's busybox)
//   AWS_SHARED_CREDENTIALS_FILE  the credentials file skiffd created, with AWS_PROFILE=skiff
//   AWS_REGION                   any region
// Prints one line per step; exits non-zero, naming the step, on the first failure. Deletes the
// service and stops the tasks it starts, so a passing run leaves nothing running.
import assert from 'node:assert/strict';

import {
  CreateServiceCommand,
  DeleteServiceCommand,
  DeleteTaskDefinitionsCommand,
  DeregisterTaskDefinitionCommand,
  DescribeTaskDefinitionCommand,
  DescribeServicesCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTagsForResourceCommand,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  RunTaskCommand,
  StopTaskCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateServiceCommand,
  paginateListTaskDefinitions,
} from '@aws-sdk/client-ecs';

const FAMILY = 'sdk-sleeper';
const SERVICE = 'sdk-web';
const POLL_MS = 250;
const WAIT_MS = 60_000;

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

const endpoint = env('SKIFF_ENDPOINT');
const image = env('SKIFF_IMAGE');
env('AWS_SHARED_CREDENTIALS_FILE');
env('AWS_REGION');

const ecs = new ECSClient({ endpoint });

async function step(name, body) {
  try {
    const detail = await body();
    console.log(`ok   ${name}${detail ? `: ${detail}` : ''}`);
  } catch (error) {
    console.error(`FAIL ${name}: ${error.name}: ${error.message}`);
    if (error.$metadata) console.error(`     $metadata: ${JSON.stringify(error.$metadata)}`);
    if (!(error instanceof assert.AssertionError) && error.stack) console.error(error.stack);
    process.exit(1);
  }
}

// Calls `read` every POLL_MS until `done(result)` holds; the last result then. Throws after
// WAIT_MS with what was last seen.
async function until(what, read, done) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const result = await read();
    if (done(result)) return result;
    if (Date.now() >= deadline) {
      throw new Error(`${what} not reached in ${WAIT_MS} ms; last: ${JSON.stringify(result)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// The error `call` must throw; fails if it returns.
async function refusal(call) {
  try {
    await call();
  } catch (error) {
    return error;
  }
  assert.fail('the call succeeded');
}

async function describeService() {
  const out = await ecs.send(new DescribeServicesCommand({ services: [SERVICE] }));
  assert.deepEqual(out.failures, [], 'DescribeServices failures');
  assert.equal(out.services.length, 1);
  return out.services[0];
}

// A one-container host-network definition: sleep under an init process, which SIGTERM stops
// at once (sleep as pid 1 would ignore it).
const definition = {
  family: FAMILY,
  networkMode: 'host',
  containerDefinitions: [{
    name: 'app',
    image,
    memory: 32,
    stopTimeout: 5,
    linuxParameters: { initProcessEnabled: true },
    command: ['sh', '-c', 'exec sleep 1000'],
  }],
};

let taskArn;
let serviceArn;

await step('RegisterTaskDefinition (twice: revisions 1 and 2)', async () => {
  for (const revision of [1, 2]) {
    const out = await ecs.send(new RegisterTaskDefinitionCommand(definition));
    assert.equal(out.$metadata.httpStatusCode, 200);
    assert.equal(out.taskDefinition.family, FAMILY);
    assert.equal(out.taskDefinition.revision, revision);
    assert.equal(out.taskDefinition.status, 'ACTIVE');
    assert.equal(out.taskDefinition.containerDefinitions[0].image, image);
    assert.match(out.taskDefinition.taskDefinitionArn,
      new RegExp(`:task-definition/${FAMILY}:${revision}$`));
  }
  return `${FAMILY}:1, ${FAMILY}:2`;
});

await step('ListTaskDefinitions, one per page (paginator)', async () => {
  const pages = [];
  for await (const page of paginateListTaskDefinitions(
    { client: ecs, pageSize: 1 }, { familyPrefix: FAMILY })) {
    pages.push(page.taskDefinitionArns);
  }
  // The paginator stops after the page without a nextToken; a last empty page is allowed.
  const arns = pages.flat();
  assert.ok(pages.every((arns) => arns.length <= 1), `pages: ${JSON.stringify(pages)}`);
  assert.equal(arns.length, 2, `arns: ${JSON.stringify(arns)}`);
  assert.match(arns[0], new RegExp(`/${FAMILY}:1$`));
  assert.match(arns[1], new RegExp(`/${FAMILY}:2$`));
  return `${pages.length} pages`;
});

await step('RunTask', async () => {
  const out = await ecs.send(new RunTaskCommand({ taskDefinition: FAMILY }));
  assert.deepEqual(out.failures, []);
  assert.equal(out.tasks.length, 1);
  taskArn = out.tasks[0].taskArn;
  assert.match(out.tasks[0].taskDefinitionArn, new RegExp(`/${FAMILY}:2$`));
  assert.equal(out.tasks[0].desiredStatus, 'RUNNING');
  return taskArn;
});

await step('DescribeTasks until RUNNING', async () => {
  const task = await until('lastStatus RUNNING',
    async () => (await ecs.send(new DescribeTasksCommand({ tasks: [taskArn] }))).tasks[0],
    (t) => t.lastStatus === 'RUNNING' || t.lastStatus === 'STOPPED');
  assert.equal(task.lastStatus, 'RUNNING', `stoppedReason: ${task.stoppedReason}`);
  assert.equal(task.containers[0].lastStatus, 'RUNNING');
  assert.ok(task.startedAt instanceof Date, `startedAt: ${task.startedAt}`);
  return `started at ${task.startedAt.toISOString()}`;
});

await step('ListTasks', async () => {
  const out = await ecs.send(new ListTasksCommand({ family: FAMILY }));
  assert.deepEqual(out.taskArns, [taskArn]);
  return `${out.taskArns.length} task`;
});

await step('CreateService desiredCount 2', async () => {
  const out = await ecs.send(new CreateServiceCommand({
    serviceName: SERVICE, taskDefinition: FAMILY, desiredCount: 2,
  }));
  serviceArn = out.service.serviceArn;
  assert.equal(out.service.serviceName, SERVICE);
  assert.equal(out.service.status, 'ACTIVE');
  assert.equal(out.service.desiredCount, 2);
  assert.match(serviceArn, new RegExp(`:service/.+/${SERVICE}$`));
  return serviceArn;
});

await step('DescribeServices until runningCount 2', async () => {
  const service = await until('runningCount 2', describeService, (s) => s.runningCount === 2);
  assert.equal(service.desiredCount, 2);
  assert.equal(service.deployments.length, 1);
  return `deployment ${service.deployments[0].id}`;
});

await step('UpdateService desiredCount 1, until the deployment settles', async () => {
  const out = await ecs.send(new UpdateServiceCommand({ service: SERVICE, desiredCount: 1 }));
  assert.equal(out.service.desiredCount, 1);
  const service = await until('one COMPLETED deployment running 1 task', describeService,
    (s) => s.runningCount === 1 && s.pendingCount === 0 && s.deployments.length === 1 &&
      s.deployments[0].rolloutState === 'COMPLETED' && s.deployments[0].runningCount === 1);
  const running = await ecs.send(new ListTasksCommand({ serviceName: SERVICE }));
  assert.equal(running.taskArns.length, 1, `service tasks: ${JSON.stringify(running.taskArns)}`);
  return `rolloutState ${service.deployments[0].rolloutState}`;
});

await step('TagResource, ListTagsForResource, UntagResource on the service', async () => {
  await ecs.send(new TagResourceCommand({
    resourceArn: serviceArn,
    tags: [{ key: 'team', value: 'skiff' }, { key: 'tier', value: 'web' }],
  }));
  const byKey = (a, b) => a.key.localeCompare(b.key);
  let out = await ecs.send(new ListTagsForResourceCommand({ resourceArn: serviceArn }));
  assert.deepEqual(out.tags.sort(byKey),
    [{ key: 'team', value: 'skiff' }, { key: 'tier', value: 'web' }]);
  await ecs.send(new UntagResourceCommand({ resourceArn: serviceArn, tagKeys: ['tier'] }));
  out = await ecs.send(new ListTagsForResourceCommand({ resourceArn: serviceArn }));
  assert.deepEqual(out.tags, [{ key: 'team', value: 'skiff' }]);
  return 'team=skiff left';
});

await step('DescribeServices on a missing cluster: ClusterNotFoundException', async () => {
  const error = await refusal(() => ecs.send(new DescribeServicesCommand({
    cluster: 'no-such-cluster', services: [SERVICE],
  })));
  assert.equal(error.name, 'ClusterNotFoundException', `${error.name}: ${error.message}`);
  assert.equal(error.$metadata.httpStatusCode, 400);
  assert.equal(error.$fault, 'client');
  assert.ok(error.message, 'no message');
  assert.ok(error.$metadata.requestId, 'no request id');
  return error.message;
});

await step('StopTask', async () => {
  const out = await ecs.send(new StopTaskCommand({ task: taskArn, reason: 'sdk scenario' }));
  assert.equal(out.task.taskArn, taskArn);
  assert.equal(out.task.desiredStatus, 'STOPPED');
  const task = await until('lastStatus STOPPED',
    async () => (await ecs.send(new DescribeTasksCommand({ tasks: [taskArn] }))).tasks[0],
    (t) => t.lastStatus === 'STOPPED');
  assert.equal(task.stopCode, 'UserInitiated');
  assert.equal(task.stoppedReason, 'sdk scenario');
  return `stopCode ${task.stopCode}`;
});

await step('DeleteService (force)', async () => {
  const out = await ecs.send(new DeleteServiceCommand({ service: SERVICE, force: true }));
  assert.equal(out.service.serviceArn, serviceArn);
  assert.notEqual(out.service.status, 'ACTIVE');
  const service = await until('status INACTIVE', describeService,
    (s) => s.status === 'INACTIVE');
  const left = await ecs.send(new ListTasksCommand({ serviceName: SERVICE }));
  assert.deepEqual(left.taskArns, []);
  return `status ${service.status}`;
});

// Revision 2 ran the task and the service, both gone now; revision 1 never ran. Deregistered,
// both are deleted; a revision that never existed is a failure of the same call, not an error.
await step('DeregisterTaskDefinition, then DeleteTaskDefinitions', async () => {
  for (const revision of [1, 2]) {
    await ecs.send(new DeregisterTaskDefinitionCommand({
      taskDefinition: `${FAMILY}:${revision}`,
    }));
  }
  const out = await ecs.send(new DeleteTaskDefinitionsCommand({
    taskDefinitions: [`${FAMILY}:1`, `${FAMILY}:2`, `${FAMILY}:9`],
  }));
  assert.deepEqual(out.taskDefinitions.map((t) => [t.revision, t.status]),
    [[1, 'DELETE_IN_PROGRESS'], [2, 'DELETE_IN_PROGRESS']]);
  assert.equal(out.failures.length, 1);
  assert.equal(out.failures[0].reason, 'MISSING');
  assert.match(out.failures[0].arn, new RegExp(`/${FAMILY}:9$`));
  const gone = await until('revision 2 deleted', async () => {
    try {
      const described = await ecs.send(
        new DescribeTaskDefinitionCommand({ taskDefinition: `${FAMILY}:2` }));
      return described.taskDefinition.status;
    } catch (error) {
      return error.name;
    }
  }, (seen) => seen === 'ClientException');
  return `${FAMILY}:1 and :2 DELETE_IN_PROGRESS, then describe :2: ${gone}`;
});

// The same key id with another secret: the signature cannot match.
await step('A request signed with a wrong secret: InvalidSignatureException', async () => {
  const { accessKeyId, secretAccessKey } = await ecs.config.credentials();
  const forger = new ECSClient({
    endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId, secretAccessKey: `${secretAccessKey}x` },
  });
  const error = await refusal(() => forger.send(new ListTasksCommand({})));
  assert.equal(error.name, 'InvalidSignatureException', `${error.name}: ${error.message}`);
  assert.equal(error.$metadata.httpStatusCode, 400);
  return error.message;
});

await step('A request signed with an unknown key id: UnrecognizedClientException', async () => {
  const stranger = new ECSClient({
    endpoint,
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'not-a-skiff-secret' },
  });
  const error = await refusal(() => stranger.send(new ListTasksCommand({})));
  assert.equal(error.name, 'UnrecognizedClientException', `${error.name}: ${error.message}`);
  assert.equal(error.$metadata.httpStatusCode, 400);
  return error.message;
});

console.log('scenario passed');
