<?php

// Reproduces tests/vectors with the generated PHP langpacks: each vector's
// input is built with the generated classes (found by id and version, fields
// given as named constructor arguments) and encoded by the runtime; the
// output must be the vector's "wire" bytes. Prints one line per vector:
// "ok NAME" or "FAIL NAME: got ...".
//
//     php vectors.php VECTORS_DIR BO_LANGPACK FRONT_LANGPACK

declare(strict_types=1);

[$_, $vectors, $boDir, $frontDir] = $argv;
$roots = ['Reestr\\Langpack\\Bo\\' => $boDir, 'Reestr\\Langpack\\Front\\' => $frontDir];
spl_autoload_register(function (string $class) use ($roots): void {
    foreach ($roots as $prefix => $dir) {
        if (str_starts_with($class, $prefix)) {
            require $dir . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
        }
    }
});

function camel(string $snake): string
{
    return lcfirst(str_replace(' ', '', ucwords(str_replace('_', ' ', $snake))));
}

function parseTime(string $s): DateTimeImmutable
{
    // PHP keeps microseconds: cut longer fractions, as the wire format does
    $s = preg_replace('/(\.\d{6})\d+/', '$1', $s);
    return new DateTimeImmutable($s);
}

function convert(mixed $value, string $type): mixed
{
    if ($value === null) {
        return null;
    }
    if (preg_match('/^list<(.+)>$/', $type, $m)) {
        return array_map(fn ($v) => convert($v, $m[1]), $value);
    }
    return match (true) {
        $type === 'float' => (float) $value,
        $type === 'int', $type === 'string', $type === 'bool' => $value,
        $type === 'DateTimeInterface', $type === '\\DateTimeInterface' => parseTime($value),
        enum_exists($type) => $type::from($value),
        default => build($type, $value),
    };
}

function build(string $class, array $fields): object
{
    $ctor = (new ReflectionClass($class))->getConstructor();
    $doc = (string) $ctor->getDocComment();
    $types = [];
    foreach ($ctor->getParameters() as $p) {
        $types[$p->getName()] = $p->getType()->getName();
        if (preg_match('/@param (list<[^|\s]+>)(?:\|null)? \$' . $p->getName() . '\b/', $doc, $m)) {
            $types[$p->getName()] = $m[1];
        }
    }
    $ns = substr($class, 0, strrpos($class, '\\') + 1);
    $args = [];
    foreach ($fields as $name => $value) {
        $arg = camel($name);
        $type = $types[$arg];
        // class names in PHPDoc are relative to the namespace
        if (preg_match('/^list<([A-Z]\w*)>$/', $type, $m)) {
            $type = 'list<' . $ns . $m[1] . '>';
        }
        $args[$arg] = convert($value, $type);
    }
    return new $class(...$args);
}

$packs = ['bo' => 'Reestr\\Langpack\\Bo\\', 'front' => 'Reestr\\Langpack\\Front\\'];
foreach (glob($vectors . '/*.json') as $file) {
    $vec = json_decode(file_get_contents($file), true, 512, JSON_BIGINT_AS_STRING);
    $in = $vec['input'];
    $ns = $packs[$in['environment']];
    $class = ($ns . 'Langpack')::EVENTS[$in['event_id'] . ':' . $in['version']];
    $event = build($class, $in['fields']);
    $event->setEventUuid(strtolower($in['uuid']));
    $event->setEventTime(parseTime($in['time']));
    $event->validate();
    $got = ($ns . 'Runtime\\Json')::event($event, $in['environment'], $in['source']);
    $name = basename($file);
    echo $got === $vec['wire'] ? "ok $name\n" : "FAIL $name: got $got\n";
}
