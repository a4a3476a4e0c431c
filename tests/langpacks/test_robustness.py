"""Generators survive a registry made to be awkward (awkward_registry.py):
keywords and builtins as names, names that clash with the langpacks' own,
deep nesting, every type, a 300-value enum and 1,009 event versions. Each
langpack must compile and load."""

import pytest

from awkward_registry import write
from conftest import gen, go_env, run, tool


@pytest.fixture(scope="module")
def awkward(tmp_path_factory):
    return write(tmp_path_factory.mktemp("awkward") / "registry")


def test_go_builds_and_vets(awkward, tmp_path):
    out = gen(awkward, "awkward", "go", tmp_path / "go")
    assert run([tool("gofmt"), "-l", "."], cwd=out).stdout.strip() == ""
    env = go_env(tmp_path)
    run([tool("go"), "vet", "./..."], cwd=out, env=env)
    # Every version is reachable by id, and keyword-named fields work.
    (out / "awkward_test.go").write_text('''package awkward

import "testing"

func TestAwkward(t *testing.T) {
	n := 0
	for id := int64(1); id < 2000; id++ {
		for v := 0; v < 5; v++ {
			if NewEvent(id, v) != nil {
				n++
			}
		}
	}
	if n != 1004 {
		t.Fatalf("NewEvent knows %d event versions, want 1004", n)
	}
	e := NewAwkwardKeywordsV0()
	e.SetType("t")
	e.SetFunc("f")
	e.SetEventTimeField("x")
	if e.Type() != "t" || e.EventTimeField() != "x" {
		t.Fatal("keyword fields")
	}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	var c Class
	c.SetClass("too long a value")
	o := NewAwkwardObjectsV0()
	o.SetObjClass(&c)
	if err := o.Validate(); err == nil || err.Error() != "awkward_objects v0: fields.obj_class.class: 16 characters, more than max_length 10" {
		t.Fatalf("got %v", err)
	}
}
''')
    run([tool("go"), "test", "./..."], cwd=out, env=env)


def test_python_type_checks_and_imports(awkward, tmp_path):
    out = gen(awkward, "awkward", "python", tmp_path / "py")
    run([tool("mypy"), "--strict", "--no-incremental", "--cache-dir=/dev/null", "reestr_awkward"], cwd=out, timeout=900)
    script = '''
import warnings
import reestr_awkward as p
warnings.simplefilter("ignore", DeprecationWarning)
assert len(p.EVENTS) == 1004, len(p.EVENTS)
for cls in p.EVENTS.values():
    cls()
e = p.AwkwardKeywordsV0(class_="c", type="t", property_="p", event_time_field="x")
e.set_def_("d").set_return_("r")
e.validate()
assert e.class_ == "c" and e.event_time_field == "x" and e.def_ == "d"
o = p.AwkwardObjectsV0(obj_class=p.Class(class_="too long a value"))
try:
    o.validate()
except p.ValidationError as err:
    assert str(err) == "awkward_objects v0: fields.obj_class.class: 16 characters, more than max_length 10", err
else:
    raise AssertionError("no error")
'''
    run([tool("python3"), "-c", script], cwd=out)


def test_php_loads_every_class(awkward, tmp_path):
    out = gen(awkward, "awkward", "php", tmp_path / "php")
    script = '''<?php
declare(strict_types=1);
spl_autoload_register(function (string $c): void {
    $p = 'Reestr\\\\Langpack\\\\Awkward\\\\';
    if (str_starts_with($c, $p)) {
        require __DIR__ . '/src/' . str_replace('\\\\', '/', substr($c, strlen($p))) . '.php';
    }
});
$n = 0;
foreach (glob(__DIR__ . '/src/*.php') as $f) {
    $c = 'Reestr\\\\Langpack\\\\Awkward\\\\' . basename($f, '.php');
    if (!class_exists($c) && !enum_exists($c)) {
        throw new RuntimeException("$c did not load");
    }
    $n++;
}
$e = new Reestr\\Langpack\\Awkward\\AwkwardKeywordsV0(class: 'c', type: 't');
$e->setEventTimeField('x')->setReturn('r');
$e->validate();
if ($e->getEventTimeField() !== 'x' || $e->getClass() !== 'c') {
    throw new RuntimeException('keyword fields');
}
$o = new Reestr\\Langpack\\Awkward\\AwkwardObjectsV0(objClass: new Reestr\\Langpack\\Awkward\\ClassType(class: 'too long a value'));
try {
    $o->validate();
    throw new RuntimeException('no error');
} catch (Reestr\\Langpack\\Awkward\\Runtime\\ValidationException $err) {
    if ($err->getMessage() !== 'awkward_objects v0: fields.obj_class.class: 16 characters, more than max_length 10') {
        throw $err;
    }
}
echo "$n\\n";
'''
    (out / "load.php").write_text(script)
    n = int(run([tool("php"), "load.php"], cwd=out).stdout.strip())
    assert n > 1004
