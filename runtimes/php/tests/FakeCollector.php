<?php

declare(strict_types=1);

namespace Reestr\Runtime\Tests;

/**
 * PHP's built-in server as a collector, answering from a script and logging
 * every batch to a file. Each script entry answers one POST: a status code,
 * or an array with "status", "reject" / "duplicate" (lists of n answered so),
 * "retry_after" (seconds) and "delay_ms"; once the script is used up every
 * event is accepted. An entry with "refuse" (a list of n) is a standing rule,
 * never used up: a request holding one of those events is answered its
 * "status" as a whole, any other is accepted. One process: a delayed answer
 * holds the next request.
 */
final class FakeCollector
{
    public string $url;
    private string $dir;
    /** @var resource */
    private $process;

    /** @param list<int|array<string, mixed>> $script */
    public function __construct(array $script = [])
    {
        $this->dir = sys_get_temp_dir() . '/reestr-fake-' . bin2hex(random_bytes(6));
        mkdir($this->dir);
        file_put_contents($this->dir . '/script.json', json_encode($script));
        file_put_contents($this->dir . '/router.php', '<?php
$dir = ' . var_export($this->dir, true) . ';
$body = file_get_contents("php://input");
$events = json_decode($body, true)["events"];
$line = json_encode(["t" => microtime(true), "size" => strlen($body), "events" => $events]) . "\n";
file_put_contents("$dir/log", $line, FILE_APPEND | LOCK_EX);
$script = json_decode(file_get_contents("$dir/script.json"), true);
if (isset($script[0]["refuse"])) {
    $refused = array_intersect(array_map(fn ($e) => $e["fields"]["n"] ?? -1, $events), $script[0]["refuse"]);
    $answer = $refused === [] ? 200 : $script[0];
} else {
    $answer = array_shift($script) ?? 200;
    file_put_contents("$dir/script.json", json_encode($script));
}
$answer = is_int($answer) ? ["status" => $answer] : $answer;
$status = $answer["status"] ?? 200;
usleep(($answer["delay_ms"] ?? 0) * 1000);
header("Content-Type: application/json");
if (isset($answer["retry_after"])) {
    header("Retry-After: " . $answer["retry_after"]);
}
if ($status !== 200) {
    http_response_code($status);
    echo json_encode(["error" => "scripted $status"]);
    return;
}
$results = [];
foreach ($events as $e) {
    $n = $e["fields"]["n"] ?? -1;
    if (in_array($n, $answer["reject"] ?? [], true)) {
        $results[] = ["status" => "rejected", "error" => "fields.n: rejected by the script"];
    } else {
        $results[] = ["status" => in_array($n, $answer["duplicate"] ?? [], true) ? "duplicate" : "accepted"];
    }
}
echo json_encode(["results" => $results]);
');
        $this->url = 'http://127.0.0.1:' . self::freePort();
        $this->process = proc_open(
            ['php', '-S', substr($this->url, 7), $this->dir . '/router.php'],
            [1 => ['file', '/dev/null', 'w'], 2 => ['file', '/dev/null', 'w']],
            $pipes,
        );
        for ($i = 0; $i < 100; $i++) {
            $c = @fsockopen('127.0.0.1', (int) substr(strrchr($this->url, ':'), 1));
            if ($c) {
                fclose($c);
                return;
            }
            usleep(20000);
        }
        throw new \RuntimeException('fake collector did not start');
    }

    /** A port nothing listens on (a moment ago). */
    public static function freePort(): int
    {
        $sock = stream_socket_server('tcp://127.0.0.1:0');
        $port = (int) substr(strrchr(stream_socket_get_name($sock, false), ':'), 1);
        fclose($sock);
        return $port;
    }

    /** @return list<array{t: float, size: int, events: list<array<string, mixed>>}> */
    public function batches(): array
    {
        $log = @file($this->dir . '/log', FILE_IGNORE_NEW_LINES) ?: [];
        return array_map(fn ($l) => json_decode($l, true), $log);
    }

    /** @return list<int> the number of events in each POST */
    public function batchSizes(): array
    {
        return array_map(fn ($b) => count($b['events']), $this->batches());
    }

    public function __destruct()
    {
        proc_terminate($this->process);
        proc_close($this->process);
        array_map('unlink', glob($this->dir . '/*'));
        rmdir($this->dir);
    }
}
