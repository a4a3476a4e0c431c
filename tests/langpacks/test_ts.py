"""The TypeScript langpack (docs/langpacks.md, "TypeScript"): golden files,
prettier's formatting, `tsc --strict` on the declarations (a complete program
passes; a required field left out, of the event or of a nested object, is
refused), the runtime shipped as compiled and its dist/ up to date with its
source, the vectors reproduced in Node, and the runtime's own tests
(`node --test`)."""

import filecmp
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, ROOT, gen, run

GOLDEN = ROOT / "tests" / "golden" / "ts"
RUNTIME = ROOT / "runtimes" / "ts"
NODE_BIN = ROOT / "tools" / "node" / "node_modules" / ".bin"
HERE = Path(__file__).resolve().parent


def node_tool(name):
    path = NODE_BIN / name
    assert path.exists(), f"{path} is missing: run scripts/install-deps"
    return str(path)


def node():
    path = shutil.which("node")
    assert path, "node is not installed: run scripts/install-deps"
    return path


def generated_files(root):
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and "runtime" not in p.relative_to(root).parts
                  and p.name != ".reestr-gen-files")


@pytest.fixture(scope="module")
def packs(tmp_path_factory):
    base = tmp_path_factory.mktemp("ts")
    out = {env: gen(EXAMPLES, env, "ts", base / env) for env in ("bo", "front")}
    awkward = base / "awkward-registry"
    run([sys.executable, str(HERE / "awkward_registry.py"), str(awkward), "40"])
    out["awkward"] = gen(awkward, "awkward", "ts", base / "awkward")
    return out


def test_generated_code_matches_golden(tmp_path):
    out = gen(EXAMPLES, "bo", "ts", tmp_path / "ts")
    files = generated_files(out)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN, ignore_errors=True)
        for rel in files:
            (GOLDEN / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(out / rel, GOLDEN / rel)
    want = sorted(p.relative_to(GOLDEN) for p in GOLDEN.rglob("*") if p.is_file())
    assert files == want, "the set of generated files changed (UPDATE_GOLDEN=1 refreshes)"
    changed = [str(rel) for rel in files
               if not filecmp.cmp(out / rel, GOLDEN / rel, shallow=False)]
    assert not changed, f"generated code differs from tests/golden/ts: {changed} (UPDATE_GOLDEN=1 refreshes)"


@pytest.mark.parametrize("env", ["bo", "front", "awkward"])
def test_prettier_leaves_the_code_as_it_is(packs, env):
    p = packs[env]
    proc = subprocess.run([node_tool("prettier"), "--check", "index.js", "index.d.ts",
                           "package.json"], cwd=p, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runtime_is_shipped_as_compiled(packs):
    shipped = packs["front"] / "runtime"
    dist = RUNTIME / "dist"
    names = sorted(p.name for p in shipped.iterdir())
    assert names == sorted(p.name for p in dist.iterdir())
    assert any(n.endswith(".d.ts") for n in names) and "sender.js" in names
    for name in names:
        assert (shipped / name).read_bytes() == (dist / name).read_bytes(), name


def test_runtime_dist_is_compiled_from_src(tmp_path):
    """runtimes/ts/dist is what tsc makes of src/ now (runtimes/ts/build)."""
    run([node_tool("tsc"), "-p", str(RUNTIME), "--outDir", str(tmp_path)])
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in (RUNTIME / "dist").iterdir()), \
        "runtimes/ts/dist is stale: run runtimes/ts/build"
    stale = [n for n in made if (tmp_path / n).read_bytes() != (RUNTIME / "dist" / n).read_bytes()]
    assert not stale, f"runtimes/ts/dist is stale ({stale}): run runtimes/ts/build"


def test_runtime_source_is_prettier_formatted():
    files = [str(p) for p in sorted((RUNTIME / "src").glob("*.ts"))]
    files += [str(RUNTIME / "conformance.mjs"), str(RUNTIME / "conformance-steps.mjs")]
    files += [str(p) for p in sorted((RUNTIME / "test").glob("*.mjs"))]
    proc = subprocess.run([node_tool("prettier"), "--check", *files],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_runtime_unit_tests():
    run([node(), "--test", str(RUNTIME / "test")])


def test_vectors_reproduced_in_node(packs):
    out = run([node(), str(HERE / "vectors" / "vectors.mjs"), str(ROOT / "tests" / "vectors"),
               str(packs["bo"]), str(packs["front"])]).stdout
    names = sorted(p.name for p in (ROOT / "tests" / "vectors").glob("*.json"))
    lines = out.splitlines()
    assert sorted(line.split(":")[0].split(" ", 1)[1] for line in lines) == names, out
    failed = [line for line in lines if not line.startswith("ok ")]
    assert not failed, "\n".join(failed)


PROGRAM = """\
import { Item, ItemViewV0, Sender, User, ValidationError } from "./lp/index.js";

const sender = new Sender({ collectorUrl: "http://127.0.0.1:9", source: "web" });
const event = new ItemViewV0({
  user: new User({ id: 413 }),
  item: new Item({ ITEM }),
  referrer: "https://www.example.com/",
});
const queued: boolean = sender.send(event);
const e: ValidationError | null = null;
console.log(queued, e, event.eventUuid, ENVIRONMENT_CHECK);
"""


def tsc_check(tmp_path, pack, item, env_check="0"):
    (tmp_path / "lp").symlink_to(pack, target_is_directory=True)
    (tmp_path / "main.ts").write_text(
        PROGRAM.replace("ITEM", item).replace("ENVIRONMENT_CHECK", env_check))
    return subprocess.run(
        [node_tool("tsc"), "--noEmit", "--strict", "--exactOptionalPropertyTypes",
         "--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler",
         "--lib", "es2022,dom", "main.ts"],
        cwd=tmp_path, capture_output=True, text=True)


def test_tsc_strict_passes_a_complete_program(packs, tmp_path):
    proc = tsc_check(tmp_path, packs["front"], "id: 7, categoryId: 3")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_tsc_refuses_a_missing_required_field_of_a_nested_object(packs, tmp_path):
    proc = tsc_check(tmp_path, packs["front"], "id: 7")
    assert proc.returncode != 0
    assert "Property 'categoryId' is missing" in proc.stdout, proc.stdout


def test_tsc_refuses_a_missing_required_event_field(packs, tmp_path):
    (tmp_path / "lp").symlink_to(packs["front"], target_is_directory=True)
    (tmp_path / "main.ts").write_text(
        'import { ItemViewV0, User } from "./lp/index.js";\n'
        "new ItemViewV0({ user: new User({ id: 1 }) });\n")
    proc = subprocess.run(
        [node_tool("tsc"), "--noEmit", "--strict", "--target", "es2022", "--module", "es2022",
         "--moduleResolution", "bundler", "--lib", "es2022,dom", "main.ts"],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "Property 'item' is missing" in proc.stdout, proc.stdout


def test_tsc_refuses_a_wrong_type_and_an_unknown_enum_value(packs, tmp_path):
    (tmp_path / "lp").symlink_to(packs["bo"], target_is_directory=True)
    (tmp_path / "main.ts").write_text(
        'import { Device } from "./lp/index.js";\n'
        'new Device({ platform: "web", ip: 4 });\n'
        'new Device({ platform: "windows" });\n')
    proc = subprocess.run(
        [node_tool("tsc"), "--noEmit", "--strict", "--target", "es2022", "--module", "es2022",
         "--moduleResolution", "bundler", "--lib", "es2022,dom", "main.ts"],
        cwd=tmp_path, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "main.ts(2," in proc.stdout and "main.ts(3," in proc.stdout, proc.stdout
    assert '"windows"' in proc.stdout, proc.stdout


@pytest.mark.parametrize("env", ["bo", "front", "awkward"])
def test_declarations_pass_tsc_strict(packs, env):
    proc = subprocess.run(
        [node_tool("tsc"), "--noEmit", "--strict", "--exactOptionalPropertyTypes",
         "--target", "es2022", "--module", "es2022", "--moduleResolution", "bundler",
         "--lib", "es2022,dom", "index.d.ts"],
        cwd=packs[env], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


SEND_CHECKS = """\
import { pathToFileURL } from "node:url";
const lp = await import(pathToFileURL(process.argv[2] + "/index.js").href);
const item = new lp.Item({ id: 7, categoryId: 3 });
const tries = {
  missing: () => new lp.ItemViewV0({}),
  nested: () => new lp.ItemViewV0({ item: new lp.Item({ id: 7 }) }),
  min: () => new lp.ItemViewV0({ item: new lp.Item({ id: 0, categoryId: 3 }) }),
  length: () => new lp.ItemViewV0({ item, referrer: "x".repeat(2049) }),
  type: () => new lp.ItemViewV0({ item, referrer: 5 }),
  surrogate: () => new lp.ItemViewV0({ item, referrer: "a\\ud800" }),
  ok: () => new lp.ItemViewV0({ item, referrer: "😀".repeat(2048) }),
};
for (const [name, make] of Object.entries(tries)) {
  try {
    make().validate();
    console.log(name, "ok");
  } catch (e) {
    console.log(name, e instanceof lp.ValidationError, e.message);
  }
}
"""


def test_send_time_checks_name_the_field(packs, tmp_path):
    (tmp_path / "checks.mjs").write_text(SEND_CHECKS)
    out = run([node(), str(tmp_path / "checks.mjs"), str(packs["front"])]).stdout
    got = dict(line.split(" ", 1) for line in out.splitlines())
    assert got == {
        "missing": "true item_view v0: fields.item: missing required field",
        "nested": "true item_view v0: fields.item.category_id: missing required field",
        "min": "true item_view v0: fields.item.id: 0 is less than min 1",
        "length": "true item_view v0: fields.referrer: 2049 characters, more than max_length 2048",
        "type": "true item_view v0: fields.referrer: expected a string, got an integer",
        "surrogate": "true item_view v0: fields.referrer: invalid UTF-8 in string",
        "ok": "ok",
    }, out
