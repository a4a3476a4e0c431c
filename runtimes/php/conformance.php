<?php

// The conformance adapter (tests/conformance/README.md):
//
//     php conformance.php CASE_FILE COLLECTOR_URL
//
// runs the case's steps with this runtime's sender and prints what happened
// as one JSON object.

declare(strict_types=1);

// One file by the contract: the test event's class and the script that uses it.
// phpcs:disable PSR1.Files.SideEffects

namespace Reestr\Runtime\Conformance;

spl_autoload_register(function (string $class): void {
    if (str_starts_with($class, 'Reestr\\Runtime\\')) {
        require __DIR__ . '/src/' . substr($class, strlen('Reestr\\Runtime\\')) . '.php';
    }
});

use Reestr\Runtime\Config;
use Reestr\Runtime\Event;
use Reestr\Runtime\Result;
use Reestr\Runtime\Sender;

/** The contract's test event: id 1, version 0, one int field n. */
final class ConformanceEvent extends Event
{
    public function __construct(public readonly int $n)
    {
        parent::__construct();
    }

    public function getEventId(): int
    {
        return 1;
    }

    public function getEventVersion(): int
    {
        return 0;
    }

    public function getEventName(): string
    {
        return 'conformance_event';
    }

    public function validate(): void
    {
    }

    public function encodeFields(): string
    {
        return '{"n":' . $this->n . '}';
    }
}

[, $caseFile, $url] = $argv;
$case = json_decode(file_get_contents($caseFile), true);
$cfg = $case['config'] ?? [];
$options = [];
foreach (
    [
        'batch_size' => ['batchSize', null], 'max_batch_bytes' => ['maxBatchBytes', null],
        'queue_capacity' => ['queueCapacity', null],
        'max_attempts' => ['maxAttempts', null], 'batch_age_ms' => ['batchAge', 1000],
        'backoff_base_ms' => ['backoffBase', 1000], 'backoff_max_ms' => ['backoffMax', 1000],
        'request_timeout_ms' => ['requestTimeout', 1000],
    ] as $key => [$name, $scale]
) {
    if (isset($cfg[$key])) {
        $options[$name] = $scale ? $cfg[$key] / $scale : $cfg[$key];
    }
}
if (isset($cfg['key'])) {
    $options['key'] = $cfg['key'];
}
$byUuid = [];
$sender = new Sender(new Config(...[
    'collectorUrl' => $url,
    'source' => 'conformance-adapter',
    'environment' => 'conformance',
    'onResult' => function (Result $r) use (&$byUuid): void {
        $byUuid[$r->uuid] = $r;
    },
    ...$options,
]));
$uuids = [];
$returns = [];
$flushOk = [];
$checkpoints = new \stdClass();
foreach ($case['steps'] as $step) {
    if (isset($step['send'])) {
        for ($i = 0; $i < $step['send']; $i++) {
            $e = new ConformanceEvent(count($uuids));
            $uuids[] = $e->getEventUuid();
            $returns[] = $sender->send($e);
        }
    } elseif (isset($step['sleep_ms'])) {
        usleep($step['sleep_ms'] * 1000);
    } elseif (isset($step['flush'])) {
        $flushOk[] = $sender->flush() === 0;
    } elseif (isset($step['close'])) {
        $flushOk[] = $sender->close() === 0;
    } elseif (isset($step['checkpoint'])) {
        $checkpoints->{$step['checkpoint']} = json_decode(file_get_contents($url . '/_count'), true)['count'];
    }
}
$results = [];
foreach ($uuids as $n => $u) {
    $r = $byUuid[$u] ?? null;
    $results[] = ['n' => $n, 'outcome' => $r?->outcome ?? 'none', 'reason' => $r?->reason ?? ''];
}
echo json_encode([
    'send_returns' => $returns,
    'flush_ok' => $flushOk,
    'results' => $results,
    'stats' => $sender->stats(),
    'checkpoints' => $checkpoints,
]), "\n";
