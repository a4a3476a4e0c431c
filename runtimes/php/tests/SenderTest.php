<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

use PHPUnit\Framework\TestCase;
use Reestr\Runtime\Config;
use Reestr\Runtime\Result;
use Reestr\Runtime\Sender;
use Reestr\Runtime\ValidationException;

final class SenderTest extends TestCase
{
    /** @var list<Result> */
    private array $results = [];

    private function sender(FakeCollector $c, int $batchSize = 500, float $batchAge = 60.0, int $capacity = 100): Sender
    {
        $this->results = [];
        return new Sender(new Config(
            collectorUrl: $c->url,
            source: 'svc',
            environment: 'bo',
            batchSize: $batchSize,
            batchAge: $batchAge,
            queueCapacity: $capacity,
            backoffBase: 0.01,
            backoffMax: 0.05,
            onResult: function (Result $r): void {
                $this->results[] = $r;
            },
        ));
    }

    public function testBatchesBySize(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c, batchSize: 3);
        for ($n = 0; $n < 7; $n++) {
            $this->assertTrue($s->send(new Numbered($n)));
        }
        $this->assertSame([3, 3], array_map(fn ($b) => count($b['events']), $c->batches()));
        $s->close();
        $this->assertSame([3, 3, 1], array_map(fn ($b) => count($b['events']), $c->batches()));
        $this->assertSame(array_fill(0, 7, 'delivered'), array_map(fn ($r) => $r->outcome, $this->results));
    }

    public function testBatchAgeFlushesOnTheNextSend(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c, batchAge: 0.05);
        $s->send(new Numbered(0));
        usleep(100000);
        $s->send(new Numbered(1));
        $this->assertCount(1, $c->batches());
        $s->close();
        $this->assertCount(2, $c->batches());
    }

    public function testRetryAfter503ResendsTheSameUuids(): void
    {
        $c = new FakeCollector([503, 500]);
        $s = $this->sender($c);
        $s->send(new Numbered(0));
        $s->send(new Numbered(1));
        $s->close();
        $uuids = array_map(fn ($b) => array_column($b['events'], 'uuid'), $c->batches());
        $this->assertCount(3, $uuids);
        $this->assertSame($uuids[0], $uuids[2]);
        $this->assertSame($uuids[0], $uuids[1]);
        $this->assertSame(2, $s->stats()['retries']);
        $this->assertSame(['delivered', 'delivered'], array_map(fn ($r) => $r->outcome, $this->results));
    }

    public function testNoRetryOn400(): void
    {
        $c = new FakeCollector([400]);
        $s = $this->sender($c);
        $s->send(new Numbered(0));
        $s->close();
        $this->assertCount(1, $c->batches());
        $this->assertSame('dropped', $this->results[0]->outcome);
        $this->assertStringContainsString('400 scripted 400', $this->results[0]->reason);
    }

    public function testRetryAfterIsHonoured(): void
    {
        $c = new FakeCollector([503], '1');
        $s = $this->sender($c);
        $s->send(new Numbered(0));
        $s->close();
        [$a, $b] = $c->batches();
        $this->assertGreaterThanOrEqual(0.95, $b['t'] - $a['t']);
    }

    public function testQueueOverflowIsCountedAndReported(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c, capacity: 2);
        $sent = [];
        for ($n = 0; $n < 4; $n++) {
            $sent[] = $s->send(new Numbered($n));
        }
        $this->assertSame([true, true, false, false], $sent);
        $this->assertSame(['queue full', 'queue full'], array_map(fn ($r) => $r->reason, $this->results));
        $s->close();
        $this->assertSame(2, $s->stats()['delivered']);
        $this->assertSame(2, $s->stats()['dropped_queue_full']);
    }

    public function testInvalidEventThrowsBeforeAnythingIsSent(): void
    {
        $c = new FakeCollector();
        $s = $this->sender($c);
        try {
            $s->send(new Clickstream(1));
            $this->fail('no exception');
        } catch (ValidationException $e) {
            $this->assertSame('clickstream_event v0: fields.user_agent: missing required field', $e->getMessage());
        }
        $s->close();
        $this->assertSame([], $c->batches());
    }

    public function testFlushAtTheEndOfTheScript(): void
    {
        $c = new FakeCollector();
        $script = tempnam(sys_get_temp_dir(), 'send') . '.php';
        file_put_contents($script, '<?php
declare(strict_types=1);
require ' . var_export(__DIR__ . '/bootstrap.php', true) . ';
$s = new Reestr\Runtime\Sender(new Reestr\Runtime\Config(' . var_export($c->url, true) . ', "svc", "bo", batchAge: 60.0));
$s->send(new Reestr\Runtime\Tests\Numbered(7));
// no flush, no close: the shutdown function delivers it
');
        exec('php ' . escapeshellarg($script), $out, $rc);
        unlink($script);
        $this->assertSame(0, $rc);
        $this->assertSame([7], array_map(fn ($e) => $e['fields']['n'], $c->batches()[0]['events'] ?? []));
    }
}
