<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

use PHPUnit\Framework\TestCase;
use Reestr\Runtime\Config;
use Reestr\Runtime\LossLog;
use Reestr\Runtime\Result;
use Reestr\Runtime\Sender;
use Reestr\Runtime\ValidationException;

final class SenderTest extends TestCase
{
    /** @var list<Result> */
    private array $results = [];
    /** @var list<string> what the senders logged */
    private array $logged = [];

    /** A PSR-3-shaped logger keeping what it is told in $this->logged. */
    private function logger(): object
    {
        $logged = &$this->logged;
        return new class ($logged) {
            /** @param list<string> $lines */
            public function __construct(private array &$lines)
            {
            }

            /** @param array<string, mixed> $context */
            public function warning(string $message, array $context = []): void
            {
                $this->lines[] = $message;
            }
        };
    }

    private function sender(
        string $url,
        int $batchSize = 500,
        float $batchAge = 60.0,
        int $capacity = 100,
        int $maxAttempts = 5,
        float $timeout = 2.0,
        int $maxBatchBytes = 1048576,
    ): Sender {
        $this->results = [];
        $this->logged = [];
        return new Sender(new Config(
            collectorUrl: $url,
            source: 'svc',
            environment: 'bo',
            batchSize: $batchSize,
            batchAge: $batchAge,
            queueCapacity: $capacity,
            maxAttempts: $maxAttempts,
            backoffBase: 0.01,
            backoffMax: 0.05,
            requestTimeout: $timeout,
            onResult: function (Result $r): void {
                $this->results[] = $r;
            },
            maxBatchBytes: $maxBatchBytes,
            logger: $this->logger(),
        ));
    }

    /** @return list<string> */
    private function outcomes(): array
    {
        return array_map(fn ($r) => $r->outcome, $this->results);
    }

    /** @return list<list<string>> the UUIDs of each POST */
    private static function uuids(FakeCollector $c): array
    {
        return array_map(fn ($b) => array_column($b['events'], 'uuid'), $c->batches());
    }

    public function testBatchesBySize(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c->url, batchSize: 3);
        for ($n = 0; $n < 7; $n++) {
            $this->assertTrue($s->send(new Numbered($n)));
        }
        $this->assertSame([3, 3], $c->batchSizes());
        $s->close();
        $this->assertSame([3, 3, 1], $c->batchSizes());
        $this->assertSame(array_fill(0, 7, 'delivered'), $this->outcomes());
        $events = array_merge(...array_column($c->batches(), 'events'));
        $this->assertSame(range(0, 6), array_map(fn ($e) => $e['fields']['n'], $events));
    }

    public function testBatchAgeFlushesOnTheNextSend(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c->url, batchAge: 0.05);
        $s->send(new Numbered(0));
        usleep(100000);
        $s->send(new Numbered(1));
        $this->assertSame([1], $c->batchSizes());
        $s->close();
        $this->assertSame([1, 1], $c->batchSizes());
    }

    public function testRetryAfter503ResendsTheSameUuids(): void
    {
        $c = new FakeCollector([503, 500]);
        $s = $this->sender($c->url);
        $s->send(new Numbered(0));
        $s->send(new Numbered(1));
        $s->close();
        $uuids = self::uuids($c);
        $this->assertCount(3, $uuids);
        $this->assertSame($uuids[0], $uuids[1]);
        $this->assertSame($uuids[0], $uuids[2]);
        $this->assertSame(2, $s->stats()['retries']);
        $this->assertSame(3, $s->stats()['requests']);
        $this->assertSame(['delivered', 'delivered'], $this->outcomes());
    }

    public function testRetryOn429And408(): void
    {
        $c = new FakeCollector([429, 408]);
        $s = $this->sender($c->url);
        $s->send(new Numbered(0));
        $s->close();
        $this->assertSame([1, 1, 1], $c->batchSizes());
        $this->assertSame(['delivered'], $this->outcomes());
    }

    public function testNoRetryOn400(): void
    {
        $c = new FakeCollector([400]);
        $s = $this->sender($c->url);
        $s->send(new Numbered(0));
        $this->assertSame(1, $s->close());
        $this->assertSame([1], $c->batchSizes());
        $this->assertSame(['rejected'], $this->outcomes());
        $this->assertSame('collector refused the event: 400 scripted 400', $this->results[0]->reason);
        $this->assertSame(0, $s->stats()['retries']);
    }

    public function testOther4xxDropTheBatch(): void
    {
        $c = new FakeCollector([404]);
        $s = $this->sender($c->url);
        $s->send(new Numbered(0));
        $s->send(new Numbered(1));
        $this->assertSame(2, $s->close());
        $this->assertSame([2], $c->batchSizes());
        $this->assertSame(['dropped', 'dropped'], $this->outcomes());
        $this->assertSame('collector refused the batch: 404 scripted 404', $this->results[0]->reason);
    }

    /** @return array<string, array{int}> */
    public static function refusals(): array
    {
        return ['400' => [400], '413' => [413]];
    }

    /** @dataProvider refusals */
    public function testARefusedBatchIsSplitDownToTheRefusedEvents(int $status): void
    {
        $c = new FakeCollector([['status' => $status, 'refuse' => [2, 5]]]);
        $s = $this->sender($c->url);
        for ($n = 0; $n < 6; $n++) {
            $s->send(new Numbered($n));
        }
        $this->assertSame(2, $s->close());
        $ns = array_map(fn ($b) => array_map(fn ($e) => $e['fields']['n'], $b['events']), $c->batches());
        $this->assertSame(
            [[0, 1, 2, 3, 4, 5], [0, 1, 2], [0], [1, 2], [1], [2], [3, 4, 5], [3], [4, 5], [4], [5]],
            $ns,
        );
        $this->assertSame(
            ['delivered', 'delivered', 'rejected', 'delivered', 'delivered', 'rejected'],
            $this->outcomes(),
        );
        $this->assertSame("collector refused the event: $status scripted $status", $this->results[5]->reason);
        $this->assertCount(1, $this->logged); // once per kind
    }

    public function testBatchesCloseAtMaxBatchBytes(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c->url, maxBatchBytes: 2000);
        for ($n = 0; $n < 50; $n++) {
            $s->send(new Numbered($n));
        }
        $this->assertSame(0, $s->close());
        $batches = $c->batches();
        $this->assertGreaterThanOrEqual(5, count($batches));
        foreach ($batches as $i => $b) {
            $this->assertLessThanOrEqual(2000, $b['size']);
            if (isset($batches[$i + 1])) {
                // full: the next one's first event did not fit
                $next = $batches[$i + 1];
                $this->assertGreaterThan(2000 - 16, $b['size'] + intdiv($next['size'], count($next['events'])));
            }
        }
        $this->assertSame(50, array_sum($c->batchSizes()));
    }

    public function testAnEventLargerThanMaxBatchBytesIsRejectedAtOnce(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c->url, maxBatchBytes: 100);
        $this->assertFalse($s->send(new Numbered(0)));
        $this->assertSame(['rejected'], $this->outcomes());
        $this->assertStringContainsString('more than max_batch_bytes 100', $this->results[0]->reason);
        $this->assertSame(1, $s->close());
        $this->assertSame([], $c->batchSizes());
        $this->assertSame(0, $s->stats()['queued']);
    }

    public function testFlushReturnsEachLossOnce(): void
    {
        $c = new FakeCollector([['status' => 200, 'reject' => [0, 1]]]);
        $s = $this->sender($c->url);
        $s->send(new Numbered(0));
        $s->send(new Numbered(1));
        $s->send(new Numbered(2));
        $this->assertSame(2, $s->flush());
        $this->assertSame(0, $s->flush());
        $s->send(new Numbered(3));
        $this->assertSame(0, $s->close());
        $this->assertCount(1, $this->logged);
        $this->assertStringStartsWith(
            'reestr: event rejected: fields.n: rejected by the script (conformance_event v0, uuid ',
            $this->logged[0],
        );
    }

    public function testLossLogRateLimitPerKind(): void
    {
        $now = 1000.0;
        $log = new LossLog($this->logger(), function () use (&$now): float {
            return $now;
        });
        $item = fn (int $n): array => ['{}', "uuid-$n", 'e', 0];
        $log->lost([$item(0)], 'dropped', 'queue full');           // logged
        $log->lost([$item(1), $item(2)], 'dropped', 'queue full'); // not
        $log->lost([$item(3)], 'rejected', 'unknown event');       // another kind
        $now += LossLog::INTERVAL - 1;
        $log->lost([$item(4)], 'dropped', 'gave up');              // not
        $now += 1;
        $log->lost([$item(5), $item(6)], 'dropped', 'gave up');    // logged, +3
        $now += 3 * LossLog::INTERVAL;
        $log->lost([$item(7)], 'dropped', 'gave up');              // logged, +1
        $this->assertSame([
            'reestr: event dropped: queue full (e v0, uuid uuid-0)',
            'reestr: event rejected: unknown event (e v0, uuid uuid-3)',
            'reestr: event dropped: gave up (e v0, uuid uuid-5); 3 more since the last line, not logged',
            'reestr: event dropped: gave up (e v0, uuid uuid-7); 1 more since the last line, not logged',
        ], $this->logged);
        $this->assertSame(8, $log->take());
        $this->assertSame(0, $log->take());
    }

    public function testALoggerMustHaveWarning(): void
    {
        $this->expectException(\InvalidArgumentException::class);
        $this->expectExceptionMessage('PSR-3 warning');
        new Config(collectorUrl: 'http://127.0.0.1:9', source: 's', environment: 'e', logger: new \stdClass());
    }

    public function testGivesUpAfterMaxAttempts(): void
    {
        $c = new FakeCollector([503, 503, 503, 503]);
        $s = $this->sender($c->url, maxAttempts: 3);
        $s->send(new Numbered(0));
        $s->close();
        $this->assertSame([1, 1, 1], $c->batchSizes());
        $this->assertSame('gave up after 3 attempts: 503 scripted 503', $this->results[0]->reason);
        $this->assertSame([1, 2], [$s->stats()['dropped'], $s->stats()['retries']]);
    }

    public function testNetworkErrorIsRetriedThenDropped(): void
    {
        $s = $this->sender('http://127.0.0.1:' . FakeCollector::freePort(), maxAttempts: 2);
        $s->send(new Numbered(0));
        $s->close();
        $this->assertSame(['dropped'], $this->outcomes());
        $this->assertStringStartsWith('gave up after 2 attempts: network error', $this->results[0]->reason);
        $this->assertSame(2, $s->stats()['requests']);
    }

    public function testTimeoutIsRetried(): void
    {
        // the retry waits in the listen queue until the slow answer is done
        // (at 600 ms), then is answered within its own 400 ms
        $c = new FakeCollector([['status' => 200, 'delay_ms' => 600]]);
        $s = $this->sender($c->url, timeout: 0.4);
        $s->send(new Numbered(0));
        $s->close();
        $uuids = self::uuids($c);
        $this->assertCount(2, $uuids);
        $this->assertSame($uuids[0], $uuids[1]);
        $this->assertSame(['delivered'], $this->outcomes());
        $this->assertSame(1, $s->stats()['retries']);
    }

    public function testTimeoutIsNamedInTheReason(): void
    {
        $c = new FakeCollector([['status' => 200, 'delay_ms' => 500]]);
        $s = $this->sender($c->url, maxAttempts: 1, timeout: 0.2);
        $s->send(new Numbered(0));
        $s->close();
        $this->assertSame('gave up after 1 attempts: timeout: no answer within 0.2 s', $this->results[0]->reason);
    }

    public function testRetryAfterIsHonoured(): void
    {
        $c = new FakeCollector([['status' => 503, 'retry_after' => 1]]);
        $s = $this->sender($c->url);
        $s->send(new Numbered(0));
        $s->close();
        [$a, $b] = $c->batches();
        $this->assertGreaterThanOrEqual(0.95, $b['t'] - $a['t']);
        $this->assertSame(['delivered'], $this->outcomes());
    }

    public function testEachEventGetsTheCollectorsAnswer(): void
    {
        $c = new FakeCollector([['status' => 200, 'reject' => [1], 'duplicate' => [2]]]);
        $s = $this->sender($c->url);
        $events = [new Numbered(0), new Numbered(1), new Numbered(2)];
        foreach ($events as $e) {
            $s->send($e);
        }
        $s->close();
        $this->assertSame(['delivered', 'rejected', 'delivered'], $this->outcomes());
        $reasons = array_map(fn ($r) => $r->reason, $this->results);
        $this->assertSame(['', 'fields.n: rejected by the script', ''], $reasons);
        foreach ($events as $i => $e) {
            $r = $this->results[$i];
            $this->assertSame([$e->getEventUuid(), 'conformance_event', 0], [$r->uuid, $r->event, $r->version]);
        }
        $this->assertSame(2, $s->stats()['delivered']);
        $this->assertSame(1, $s->stats()['rejected']);
    }

    public function testQueueOverflowIsCountedAndReported(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c->url, capacity: 2);
        $sent = [];
        for ($n = 0; $n < 4; $n++) {
            $sent[] = $s->send(new Numbered($n));
        }
        $this->assertSame([true, true, false, false], $sent);
        $this->assertSame(['queue full', 'queue full'], array_map(fn ($r) => $r->reason, $this->results));
        $s->close();
        $stats = $s->stats();
        $this->assertSame(
            [2, 2, 2, 2],
            [$stats['queued'], $stats['delivered'], $stats['dropped'], $stats['dropped_queue_full']],
        );
    }

    public function testSendAfterCloseIsDropped(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c->url);
        $s->close();
        $this->assertFalse($s->send(new Numbered(0)));
        $this->assertSame(['dropped'], $this->outcomes());
        $this->assertSame('sender closed', $this->results[0]->reason);
        $this->assertSame([], $c->batches());
    }

    public function testInvalidEventThrowsBeforeAnythingIsSent(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c->url);
        try {
            $s->send(new Clickstream(1));
            $this->fail('no exception');
        } catch (ValidationException $e) {
            $this->assertSame('clickstream_event v0: fields.user_agent: missing required field', $e->getMessage());
            $this->assertSame(['clickstream_event', 0, 'fields.user_agent'], [$e->event, $e->version, $e->field]);
        }
        $s->close();
        $this->assertSame([], $c->batches());
        $this->assertSame(0, $s->stats()['queued']);
    }

    public function testFlushAtTheEndOfTheScript(): void
    {
        $c = new FakeCollector();
        $script = tempnam(sys_get_temp_dir(), 'send');
        $marker = $script . '.finished';
        file_put_contents($script, '<?php
declare(strict_types=1);
require ' . var_export(__DIR__ . '/bootstrap.php', true) . ';
// stands in for PHP-FPM\'s: the shutdown flush must call it first
function fastcgi_finish_request(): bool
{
    file_put_contents(' . var_export($marker, true) . ', (string) microtime(true));
    return true;
}
$config = new Reestr\Runtime\Config(' . var_export($c->url, true) . ', "svc", "bo", batchAge: 60.0);
$s = new Reestr\Runtime\Sender($config);
$s->send(new Reestr\Runtime\Tests\Numbered(7));
echo "sent\n";
// no flush, no close: the shutdown function delivers it
');
        exec('php ' . escapeshellarg($script), $out, $rc);
        $finishedAt = (float) @file_get_contents($marker);
        @unlink($marker);
        unlink($script);
        $this->assertSame(0, $rc);
        $this->assertSame(['sent'], $out);
        $batches = $c->batches();
        $this->assertSame([7], array_map(fn ($e) => $e['fields']['n'], $batches[0]['events'] ?? []));
        $this->assertGreaterThan(0.0, $finishedAt, 'fastcgi_finish_request was not called');
        $this->assertLessThanOrEqual($batches[0]['t'], $finishedAt);
    }

    public function testAnUnreachableAgentDropsWithTheReasonWhenNoCollectorIsSet(): void
    {
        $results = [];
        $s = new Sender(new Config(
            collectorUrl: '',
            source: 'svc',
            environment: 'bo',
            agentSocket: sys_get_temp_dir() . '/no-such-agent.sock',
            onResult: function (Result $r) use (&$results): void {
                $results[] = $r;
            },
        ));
        // no logger given: the loss goes to error_log()
        $log = tempnam(sys_get_temp_dir(), 'reestr-error-log');
        $before = ini_set('error_log', $log);
        try {
            $this->assertFalse($s->send(new Numbered(1)));
        } finally {
            ini_set('error_log', (string) $before);
        }
        $this->assertSame('dropped', $results[0]->outcome);
        $this->assertStringContainsString('no-such-agent.sock', $results[0]->reason);
        $this->assertStringContainsString('reestr: event dropped: agent ', (string) file_get_contents($log));
        unlink($log);
    }

    public function testAnUnreachableAgentFallsBackToTheCollector(): void
    {
        $c = new FakeCollector();
        $s = new Sender(new Config(
            collectorUrl: $c->url,
            source: 'svc',
            environment: 'bo',
            agentSocket: sys_get_temp_dir() . '/no-such-agent.sock',
        ));
        $this->assertTrue($s->send(new Numbered(5)));
        $s->close();
        $this->assertSame(1, $s->stats()['delivered']);
        $this->assertCount(1, $c->batches());
    }

    public function testKeyFromEnvironmentAndNeverDumped(): void
    {
        $key = 'rk_live_00112233aabbccdd_' . str_repeat('3c', 32);
        putenv("REESTR_KEY=$key");
        try {
            $fromEnv = new Config('http://127.0.0.1:9', 'svc', 'bo');
            $this->assertSame($key, $fromEnv->key());
            $given = new Config('http://127.0.0.1:9', 'svc', 'bo', key: 'rk_live_1');
            $this->assertSame('rk_live_1', $given->key(), 'the configured key wins');
        } finally {
            putenv('REESTR_KEY');
        }
        $this->assertNull((new Config('http://127.0.0.1:9', 'svc', 'bo'))->key());
        ob_start();
        var_dump($fromEnv);
        $dump = ob_get_clean() . print_r($fromEnv, true);
        $this->assertStringNotContainsString($key, $dump);
        $this->assertStringContainsString('[redacted]', $dump);
        try {
            new Config('http://127.0.0.1:9', 'svc', 'bo', key: "$key\r\nX-Evil: 1");
            $this->fail('a key with a control byte was taken');
        } catch (\InvalidArgumentException $e) {
            $this->assertStringNotContainsString($key, $e->getMessage());
        }
    }
}
