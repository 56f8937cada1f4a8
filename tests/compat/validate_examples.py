#!/usr/bin/python3
"""Checks that every example task definition is a request AWS itself would accept.

Each examples/task-definitions/*.json file must be a RegisterTaskDefinition request document, the
exact input of `aws ecs register-task-definition --cli-input-json file://X.json`. Two independent
client-side validators judge them:

  1. botocore's ParamValidator against the ECS service model (Debian's python3-botocore), which
     rejects unknown fields, wrong types and missing required members. ParamValidator does not
     look at enums (the service does, server-side), so string values are also checked against
     the model's enum lists (networkMode, protocol, condition, logDriver, ulimit names, ...);
  2. if /usr/bin/aws exists, the AWS CLI's own parameter validation. The CLI is pointed at a
     closed loopback port with dummy credentials, so it validates and then fails to connect:
     "Could not connect to the endpoint URL" means the document passed, "Parameter validation
     failed" means it did not. Nothing ever leaves 127.0.0.1. Set SKIFF_COMPAT_SKIP_AWSCLI=1 to
     skip this part.

A negative self-check makes sure the validators can fail at all: deliberately broken copies of the
first example must be rejected.

    validate_examples.py [EXAMPLES_DIR]      (default: ../../examples/task-definitions)

Prints one line per file, then a closing line "N passed, M failed". Exits 1 if any file failed,
if fewer than MIN_FILES examples were found, or if a self-check went wrong.
"""

import concurrent.futures
import copy
import glob
import json
import os
import subprocess
import sys
import tempfile

import botocore.session
import botocore.validate

MIN_FILES = 10
MAX_FILE_BYTES = 64 * 1024
AWS_CLI = "/usr/bin/aws"
# Port 9 (discard) on loopback: nothing listens there, so the CLI's request fails right after its
# client-side validation. Only loopback is ever used.
DEAD_ENDPOINT = "http://127.0.0.1:9"
CLI_TIMEOUT = 120
CLI_OK_MARKER = "Could not connect to the endpoint URL"
CLI_INVALID_MARKER = "Parameter validation failed"


def default_dir():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.normpath(os.path.join(here, "..", "..", "examples", "task-definitions"))


def input_shape():
    model = botocore.session.get_session().get_service_model("ecs")
    return model.operation_model("RegisterTaskDefinition").input_shape


def _no_duplicate_keys(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise ValueError("duplicate key %r" % key)
        obj[key] = value
    return obj


def load(path):
    """Returns (params, error). A file that is not a JSON object is an error, as are duplicate
    keys, which json would otherwise resolve silently by keeping the last one."""
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        return None, "file is %d bytes, more than %d" % (size, MAX_FILE_BYTES)
    try:
        with open(path, encoding="utf-8") as f:
            params = json.load(f, object_pairs_hook=_no_duplicate_keys)
    except (OSError, ValueError) as e:
        return None, "cannot load JSON: %s" % e
    if not isinstance(params, dict):
        return None, "top level is %s, not a JSON object" % type(params).__name__
    return params, None


def botocore_errors(params, shape):
    report = botocore.validate.ParamValidator().validate(params, shape)
    if report.has_errors():
        return report.generate_report()
    return None


def enum_errors(value, shape, path="", out=None):
    """Values outside a string shape's enum, as botocore-style messages. Walks only the members
    the model knows; unknown members are ParamValidator's business."""
    if out is None:
        out = []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, member in value.items():
            if name in shape.members:
                enum_errors(member, shape.members[name], path + "." + name if path else name, out)
    elif kind == "list" and isinstance(value, list):
        for i, item in enumerate(value):
            enum_errors(item, shape.member, "%s[%d]" % (path, i), out)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            enum_errors(key, shape.key, "%s (key)" % path, out)
            enum_errors(item, shape.value, "%s.%s" % (path, key), out)
    elif kind == "string" and isinstance(value, str):
        allowed = getattr(shape, "enum", None)
        if allowed and value not in allowed:
            out.append("Invalid value for parameter %s, value: %r, valid values: %s"
                       % (path, value, ", ".join(allowed)))
    return out


def cli_env(home):
    # Nothing from the caller's AWS configuration or proxy settings may leak in: a profile, a
    # credential process or a proxy could turn this into a real network call.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and k.lower() not in
           ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({
        "HOME": home,
        "AWS_ACCESS_KEY_ID": "AKIDSKIFFCOMPATTEST",
        "AWS_SECRET_ACCESS_KEY": "skiff-compat-test-not-a-secret",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_RETRY_MODE": "standard",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "AWS_CLI_AUTO_PROMPT": "off",
        "NO_PROXY": "127.0.0.1",
        "no_proxy": "127.0.0.1",
    })
    return env


def cli_errors(path, env):
    """Returns None if the AWS CLI accepted the document, else a message."""
    cmd = [AWS_CLI, "--endpoint-url", DEAD_ENDPOINT, "--region", "us-east-1",
           "ecs", "register-task-definition",
           "--cli-input-json", "file://" + os.path.abspath(path)]
    try:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        return "aws cli: timed out after %ds" % CLI_TIMEOUT
    out = (proc.stdout + proc.stderr).strip()
    if CLI_INVALID_MARKER in out:
        return "aws cli: " + out
    if CLI_OK_MARKER in out and proc.returncode != 0:
        return None
    # Anything else (a crash, a changed message, an unexpected success) is not proof of validity.
    return "aws cli: inconclusive (exit %d): %s" % (proc.returncode, out or "<no output>")


def use_cli():
    if os.environ.get("SKIFF_COMPAT_SKIP_AWSCLI") == "1":
        print("note: SKIFF_COMPAT_SKIP_AWSCLI=1, AWS CLI check skipped")
        return False
    if not os.access(AWS_CLI, os.X_OK):
        print("note: %s not found, AWS CLI check skipped" % AWS_CLI)
        return False
    return True


def broken_variants(params):
    """Deliberately invalid copies of a valid request, each of which both validators must reject."""
    unknown = copy.deepcopy(params)
    unknown["containerDefinitions"][0]["skiffNotAnEcsField"] = True
    wrong_type = copy.deepcopy(params)
    wrong_type["containerDefinitions"][0]["memory"] = "a lot"
    return [("unknown field in containerDefinitions[0]", unknown),
            ("string where containerDefinitions[0].memory needs an integer", wrong_type)]


def bad_enum_variant(params):
    bad = copy.deepcopy(params)
    bad["networkMode"] = "bridged"
    return bad


def self_check(first_path, first_params, shape, cli, tmpdir, env):
    """Returns the number of self-check failures (validators accepting a broken document)."""
    failures = 0
    for i, (what, broken) in enumerate(broken_variants(first_params)):
        label = "self-check (%s, from %s)" % (what, os.path.basename(first_path))
        if botocore_errors(broken, shape) is None:
            print("SELF-CHECK FAILED: botocore accepted a broken document: " + label)
            failures += 1
        else:
            print("self-check ok: botocore rejects " + label)
        if cli:
            path = os.path.join(tmpdir, "broken-%d.json" % i)
            with open(path, "w", encoding="utf-8") as f:
                json.dump(broken, f)
            msg = cli_errors(path, env)
            if msg is None or not msg.startswith("aws cli: " + CLI_INVALID_MARKER):
                print("SELF-CHECK FAILED: aws cli did not reject a broken document: %s: %s"
                      % (label, msg or "accepted"))
                failures += 1
            else:
                print("self-check ok: aws cli rejects " + label)
    label = "self-check (networkMode 'bridged', from %s)" % os.path.basename(first_path)
    if not enum_errors(bad_enum_variant(first_params), shape):
        print("SELF-CHECK FAILED: the enum check accepted a broken document: " + label)
        failures += 1
    else:
        print("self-check ok: the enum check rejects " + label)
    return failures


def main(argv):
    directory = argv[1] if len(argv) > 1 else default_dir()
    files = sorted(glob.glob(os.path.join(directory, "*.json")))
    shape = input_shape()
    cli = use_cli()

    loaded = {}
    errors = {}
    for path in files:
        params, err = load(path)
        if err:
            errors[path] = [err]
            continue
        loaded[path] = params
        err = botocore_errors(params, shape)
        errors[path] = ["botocore: " + err] if err else []
        errors[path] += ["model enum: " + e for e in enum_errors(params, shape)]

    self_failures = 0
    with tempfile.TemporaryDirectory(prefix="skiff-compat-") as tmpdir:
        env = cli_env(tmpdir)
        if cli:
            # Each CLI run is about a second of Python start-up; run a few side by side.
            with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
                results = pool.map(lambda p: (p, cli_errors(p, env)), list(loaded))
                for path, err in results:
                    if err:
                        errors[path].append(err)
        if loaded:
            first = next(iter(loaded))
            self_failures = self_check(first, loaded[first], shape, cli, tmpdir, env)
        else:
            print("SELF-CHECK FAILED: no loadable example to break")
            self_failures = 1

    passed = failed = 0
    for path in files:
        name = os.path.basename(path)
        if errors[path]:
            failed += 1
            print("FAIL %s" % name)
            for err in errors[path]:
                for line in err.splitlines():
                    print("    " + line)
        else:
            passed += 1
            print("PASS %s" % name)

    ok = True
    if len(files) < MIN_FILES:
        print("ERROR: found %d example(s) in %s, expected at least %d"
              % (len(files), directory, MIN_FILES))
        ok = False
    if self_failures:
        ok = False
    if failed:
        ok = False
    print("%d passed, %d failed" % (passed, failed))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
