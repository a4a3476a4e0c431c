<?php

// Sends one valid instance of every event version of the stress registry
// from the generated PHP langpack (tests/langpacks/test_stress.py): each
// instance is built with the generated classes (found by id and version,
// fields given as named constructor arguments spelled by docs/langpacks.md
// "Names"), checked with the generated validate() and sent with the
// langpack's Sender. Prints one line per failure and "sent N delivered M";
// exits 1 on any failure.
//
//     php send.php LANGPACK_DIR INSTANCES.json COLLECTOR_URL

declare(strict_types=1);

[$_, $dir, $instances, $url] = $argv;
$prefix = 'Reestr\\Langpack\\Bo\\';
spl_autoload_register(function (string $class) use ($prefix, $dir): void {
    if (str_starts_with($class, $prefix)) {
        require $dir . '/src/' . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
    }
});

function camel(string $snake): string
{
    return lcfirst(str_replace(' ', '', ucwords(str_replace('_', ' ', $snake))));
}

function parseTime(string $s): DateTimeImmutable
{
    $s = preg_replace('/(\.\d{6})\d+/', '$1', $s);
    return new DateTimeImmutable($s);
}

function convert(mixed $value, string $type): mixed
{
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
        $arg = isset($types[camel($name) . 'Field']) ? camel($name) . 'Field' : camel($name);
        if (!isset($types[$arg])) {
            throw new RuntimeException("$class has no argument for $name");
        }
        $type = $types[$arg];
        // class names in PHPDoc are relative to the namespace
        $type = preg_replace_callback('/(?<=<)([A-Z]\w*)(?=>)/', fn ($m) => $ns . $m[1], $type);
        $args[$arg] = convert($value, $type);
    }
    return new $class(...$args);
}

$failed = [];
$delivered = 0;
$sender = ($prefix . 'Langpack')::sender($url, 'stress-service', function ($r) use (&$failed, &$delivered): void {
    if ($r->outcome === 'delivered') {
        $delivered++;
    } else {
        $failed[] = "FAIL {$r->event} v{$r->version}: {$r->outcome}: {$r->reason}";
    }
});
$sent = 0;
foreach (json_decode(file_get_contents($instances), true, 512, JSON_BIGINT_AS_STRING) as $in) {
    try {
        $class = ($prefix . 'Langpack')::EVENTS[$in['event_id'] . ':' . $in['version']] ?? null;
        if ($class === null) {
            throw new RuntimeException('no such event in the langpack');
        }
        $event = build($class, $in['fields']);
        $event->setEventUuid($in['uuid']);
        $event->validate();
        $sender->send($event);
        $sent++;
    } catch (Throwable $e) {
        $failed[] = "FAIL {$in['name']} v{$in['version']}: " . get_class($e) . ': ' . $e->getMessage();
    }
}
$lost = $sender->close();
if ($lost > 0) {
    $failed[] = "FAIL close: $lost events lost";
}
echo implode("\n", [...$failed, "sent $sent delivered $delivered"]), "\n";
exit($failed ? 1 : 0);
