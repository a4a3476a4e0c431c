"""Required fields are constructor parameters (langpack API major 1), so a
program that leaves one out is refused before it runs: by `go build` and
`go vet`, by mypy --strict, and in PHP by the constructor itself
(ArgumentCountError; php -l checks syntax only). Optional fields stay
optional: the complete programs below set none of them and pass. Both the
event's own fields and a nested object's are covered."""

import subprocess

import pytest

from conftest import gen, go_env, mypy_strict, run, tool

# Each case: the complete call, and the same call with one required field
# left out, which the language's checker must refuse by naming it.
GO_CALLS = {
    "complete": 'bo.NewClickstreamEventV0(bo.NewUser(1), bo.NewGeo(1, 2), "ua")',
    "event field": 'bo.NewClickstreamEventV0(bo.NewUser(1), "ua")',
    "nested field": 'bo.NewClickstreamEventV0(bo.NewUser(1), bo.NewGeo(2), "ua")',
}
PY_CALLS = {
    "complete": 'bo.ClickstreamEventV0(user=bo.User(id=1), '
                'geo=bo.Geo(latitude=1.0, longitude=2.0), user_agent="ua")',
    "event field": 'bo.ClickstreamEventV0(user=bo.User(id=1), user_agent="ua")',
    "nested field": 'bo.ClickstreamEventV0(user=bo.User(id=1), '
                    'geo=bo.Geo(longitude=2.0), user_agent="ua")',
}
PHP_CALLS = {
    "complete": "new ClickstreamEventV0(user: new User(id: 1), "
                "geo: new Geo(latitude: 1.0, longitude: 2.0), userAgent: 'ua')",
    "event field": "new ClickstreamEventV0(user: new User(id: 1), userAgent: 'ua')",
    "nested field": "new ClickstreamEventV0(user: new User(id: 1), "
                    "geo: new Geo(longitude: 2.0), userAgent: 'ua')",
    "event field, positional": "new ClickstreamEventV0(new User(id: 1), "
                               "new Geo(latitude: 1.0, longitude: 2.0))",
}
# the field left out: Python's name, PHP's message
MISSING = {"event field": ("geo", "Argument #2 ($geo) not passed"),
           "nested field": ("latitude", "Argument #1 ($latitude) not passed"),
           "event field, positional": (None, "ClickstreamEventV0::__construct(), 2 passed")}


def go_program(call):
    return f'''package main

import (
	"fmt"

	bo "reestr.local/langpack/bo"
)

func main() {{
	e := {call}
	fmt.Println(e.Validate())
}}
'''


@pytest.fixture(scope="module")
def go_app(example_langpacks, tmp_path_factory):
    app = tmp_path_factory.mktemp("required-go")
    (app / "go.mod").write_text(
        "module example.com/required\n\ngo 1.22\n\n"
        "require reestr.local/langpack/bo v1.0.0\n\n"
        f"replace reestr.local/langpack/bo => {example_langpacks['go']}\n")
    return app


@pytest.mark.parametrize("case", list(GO_CALLS))
def test_go_build_and_vet_refuse_a_missing_required_field(case, go_app, tmp_path):
    (go_app / "main.go").write_text(go_program(GO_CALLS[case]))
    env = go_env(tmp_path)
    build = subprocess.run([tool("go"), "build", "-o", str(tmp_path / "app"), "."],
                           cwd=go_app, env=env, capture_output=True, text=True)
    vet = subprocess.run([tool("go"), "vet", "."], cwd=go_app, env=env,
                         capture_output=True, text=True)
    if case == "complete":
        assert build.returncode == 0, build.stderr
        assert vet.returncode == 0, vet.stderr
        out = run([str(tmp_path / "app")]).stdout
        assert out == "<nil>\n", out
        return
    call = "bo.NewClickstreamEventV0" if case == "event field" else "bo.NewGeo"
    for proc in (build, vet):
        assert proc.returncode != 0, f"{case}: compiled"
        assert f"not enough arguments in call to {call}" in proc.stderr, proc.stderr


@pytest.mark.parametrize("case", list(PY_CALLS))
def test_mypy_refuses_a_missing_required_field(case, example_langpacks, tmp_path):
    program = tmp_path / "app.py"
    program.write_text("import reestr_bo as bo\n\n"
                       f"event = {PY_CALLS[case]}\nevent.validate()\n")
    env = {"MYPYPATH": str(example_langpacks["python"]), "PATH": "/usr/bin:/bin"}
    checked = subprocess.run(
        mypy_strict(program), cwd=tmp_path, env=env, capture_output=True, text=True)
    ran = subprocess.run(
        [tool("python3"), str(program)], cwd=tmp_path, capture_output=True, text=True,
        # no __pycache__ in the session's langpack, which other tests compare
        env={"PYTHONPATH": str(example_langpacks["python"]), "PATH": "/usr/bin:/bin",
             "PYTHONDONTWRITEBYTECODE": "1"})
    if case == "complete":
        assert checked.returncode == 0, checked.stdout
        assert ran.returncode == 0, ran.stderr
        return
    name = MISSING[case][0]
    assert checked.returncode == 1, checked.stdout
    assert f'Missing named argument "{name}"' in checked.stdout, checked.stdout
    # and at run time, before anything could be sent
    assert ran.returncode != 0
    assert f"missing 1 required keyword-only argument: '{name}'" in ran.stderr, ran.stderr


@pytest.mark.parametrize("case", list(PHP_CALLS))
def test_php_constructor_refuses_a_missing_required_field(case, example_langpacks, tmp_path):
    src = example_langpacks["php"] / "src"
    (tmp_path / "app.php").write_text(f'''<?php

declare(strict_types=1);

spl_autoload_register(function (string $c): void {{
    $p = 'Reestr\\\\Langpack\\\\Bo\\\\';
    if (str_starts_with($c, $p)) {{
        require '{src}/' . str_replace('\\\\', '/', substr($c, strlen($p))) . '.php';
    }}
}});

use Reestr\\Langpack\\Bo\\{{ClickstreamEventV0, Geo, User}};

try {{
    $event = {PHP_CALLS[case]};
}} catch (ArgumentCountError $e) {{
    echo 'refused: ', $e->getMessage(), "\\n";
    exit(1);
}}
$event->validate();
echo "valid\\n";
''')
    run([tool("php"), "-l", str(tmp_path / "app.php")])  # the syntax is fine either way
    ran = subprocess.run([tool("php"), str(tmp_path / "app.php")], capture_output=True, text=True)
    if case == "complete":
        assert (ran.returncode, ran.stdout) == (0, "valid\n"), ran.stdout + ran.stderr
        return
    message = MISSING[case][1]
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert ran.stdout.startswith("refused: ") and message in ran.stdout, ran.stdout


def test_php_required_parameters_are_not_nullable(example_langpacks, tmp_path):
    """Passing null for a required field is a TypeError, as for any
    non-nullable PHP parameter; an optional one takes null."""
    src = example_langpacks["php"] / "src"
    (tmp_path / "null.php").write_text(f'''<?php
declare(strict_types=1);
spl_autoload_register(function (string $c): void {{
    require '{src}/' . substr($c, strlen('Reestr\\\\Langpack\\\\Bo\\\\')) . '.php';
}});
use Reestr\\Langpack\\Bo\\{{Geo, User}};
new User(id: 1, email: null);
try {{
    new Geo(latitude: 1.0, longitude: null);
}} catch (TypeError $e) {{
    echo get_class($e), ': ', $e->getMessage(), "\\n";
}}
''')
    out = run([tool("php"), str(tmp_path / "null.php")]).stdout
    assert out.startswith("TypeError: ") and "($longitude) must be of type float, null given" in out, out


def test_php_generic_create_has_no_field_set(example_langpacks, tmp_path):
    """Langpack::create makes an event without its constructor, for tools
    that fill events with the setters: every field, optional ones too, is
    null (not uninitialized), and the send-time check names the first
    required one missing."""
    src = example_langpacks["php"] / "src"
    (tmp_path / "create.php").write_text(f'''<?php
declare(strict_types=1);
spl_autoload_register(function (string $c): void {{
    require '{src}/' . str_replace('\\\\', '/', substr($c, strlen('Reestr\\\\Langpack\\\\Bo\\\\'))) . '.php';
}});
use Reestr\\Langpack\\Bo\\{{Geo, Langpack, PaymentV0, User}};
use Reestr\\Langpack\\Bo\\Runtime\\ValidationException;
$e = Langpack::create(300, 0);
echo get_class($e), ' ', var_export($e->getFailureReason(), true), "\\n";
try {{
    $e->validate();
}} catch (ValidationException $x) {{
    echo $x->getMessage(), "\\n";
}}
$e = Langpack::create(100, 0)->setUser(new User(id: 1))->setGeo(new Geo(latitude: 1.0, longitude: 2.0));
$e->setUserAgent('ua')->validate();
echo strlen($e->getEventUuid()), "\\n";
''')
    out = run([tool("php"), str(tmp_path / "create.php")]).stdout.splitlines()
    assert out == ["Reestr\\Langpack\\Bo\\PaymentV0 NULL",
                   "payment v0: fields.user: missing required field", "36"], out


def test_go_constructor_parameters_named_like_what_the_body_uses(tmp_path):
    """Parameters take the struct fields' names, but not the package
    `reestr` nor the local `e`/`o` the constructor fills: those get `_`."""
    reg = tmp_path / "registry"
    reg.mkdir()
    (reg / "r.yaml").write_text(
        "owners: {team: {contact: a@example.com}}\nsources: {svc: {owner: team}}\n"
        "environments: {bo: {events: [ev]}}\nevents:\n  ev:\n    id: 1\n    owner: team\n"
        "    versions:\n      - version: 0\n        fields:\n"
        "          e: string\n          reestr: int\n          type: bool\n"
        "          o: {type: object, fields: {o: string, e: int}}\n")
    out = gen(reg, "bo", "go", tmp_path / "go")
    src = (out / "ev_event.go").read_text()
    assert "func NewEvV0(e_ string, reestr_ int64, type_ bool, o *EvV0O) *EvV0 {" in src, src
    (out / "use_test.go").write_text('''package bo

import "testing"

func TestParameters(t *testing.T) {
	e := NewEvV0("x", 2, true, NewEvV0O("y", 3))
	if e.E() != "x" || e.Reestr() != 2 || !e.Type() || e.O().O() != "y" || e.O().E() != 3 {
		t.Fatal("parameters")
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
}
''')
    env = go_env(tmp_path)
    run([tool("go"), "vet", "./..."], cwd=out, env=env)
    run([tool("go"), "test", "./..."], cwd=out, env=env)
