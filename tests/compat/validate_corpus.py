#!/usr/bin/python3
"""Checks the compatibility corpus' verdicts on the ECS side.

tests/compat/corpus holds task definitions of the kinds people write and publish (written for
this repository after public ones, which are named in MANIFEST.json; see README.md there).
MANIFEST.json gives each file's verdicts: "model", what botocore's ParamValidator says against
the vendored current ECS model (third_party/botocore/ecs); "ecs", what ECS does (the model plus
the rules ECS applies server-side); "skiff", what skiff does (tests/unit/model/examples_test.cc).
This script checks "model": a file the model accepts must validate, and one it refuses must be
refused with a report that names the manifest's "field".

    validate_corpus.py CORPUS_DIR MODEL_JSON

Prints one line per file and exits 1 on any disagreement, or if MANIFEST.json and the files
differ.
"""

import glob
import json
import os
import sys

import botocore.model
import botocore.validate


def main(corpus_dir, model_path):
    with open(model_path) as f:
        service = botocore.model.ServiceModel(json.load(f), "ecs")
    shape = service.operation_model("RegisterTaskDefinition").input_shape
    with open(os.path.join(corpus_dir, "MANIFEST.json")) as f:
        manifest = json.load(f)
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(corpus_dir, "*.json"))
                   if os.path.basename(p) != "MANIFEST.json")
    failed = 0
    if set(files) != set(manifest):
        print("MANIFEST.json and the files differ:", sorted(set(files) ^ set(manifest)))
        failed += 1
    for name in files:
        verdict = manifest.get(name, {})
        with open(os.path.join(corpus_dir, name)) as f:
            document = json.load(f)
        report = botocore.validate.ParamValidator().validate(document, shape)
        accepted = not report.has_errors()
        text = "" if accepted else report.generate_report()
        ok = accepted == verdict.get("model")
        if ok and not accepted:
            ok = verdict.get("field", "\0") in text
        failed += not ok
        print("%s %s: the model %s%s" % ("ok  " if ok else "FAIL", name,
                                         "accepts" if accepted else "refuses",
                                         "" if accepted else " (%s)" % text.splitlines()[-1]))
    print("%d files, %d failed" % (len(files), failed))
    return 1 if failed or len(files) < 15 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
