"""Where the local stack keeps its jars, data and logs (all git-ignored)."""

import os
from pathlib import Path


def project_root() -> Path:
    env = os.environ.get("QAF_PROJECT_ROOT")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "kafka" / "pom.xml").exists():
            return parent
    return Path.cwd().resolve()


ROOT = project_root()
CACHE = ROOT / ".cache"
VAR = ROOT / "var"
KAFKA_LIBS = CACHE / "kafka" / "libs"
KAFKA_POM = ROOT / "deploy" / "kafka" / "pom.xml"
KAFKA_LOG4J = ROOT / "deploy" / "kafka" / "log4j2.yaml"
