<?php

declare(strict_types=1);

namespace Reestr\Runtime;

/**
 * Events to the local agent (`reestr agent`) over its Unix socket: one JSON
 * line per event, written without waiting; the agent answers each line in
 * order ("ok" once the event is on its disk, or "error <reason>"), and the
 * answers are read when there are some, or at flush.
 */
final class AgentTransport
{
    /** @var resource|null */
    private $socket = null;
    private string $unwritten = '';
    private string $unread = '';

    public function __construct(private string $path, private float $timeout)
    {
    }

    /**
     * Queues a line for the agent and writes what the socket takes now.
     *
     * @throws \RuntimeException when the agent cannot be reached
     */
    public function write(string $line): void
    {
        $this->connect();
        $this->unwritten .= $line . "\n";
        $this->pump(false);
    }

    /**
     * Answers that have arrived, in order; with $wait, blocks (up to the
     * timeout) until $expected answers have come.
     *
     * @return list<string>
     * @throws \RuntimeException when the agent went away
     */
    public function answers(int $expected, bool $wait): array
    {
        if ($this->socket === null) {
            return [];
        }
        $deadline = microtime(true) + $this->timeout;
        $lines = [];
        while (true) {
            $this->pump($wait);
            while (($nl = strpos($this->unread, "\n")) !== false) {
                $lines[] = substr($this->unread, 0, $nl);
                $this->unread = substr($this->unread, $nl + 1);
            }
            if (!$wait || count($lines) >= $expected) {
                return $lines;
            }
            if (microtime(true) >= $deadline) {
                throw new \RuntimeException('agent: no answer within ' . $this->timeout . ' s');
            }
        }
    }

    private function connect(): void
    {
        if ($this->socket !== null) {
            return;
        }
        $errno = 0;
        $error = '';
        $s = @stream_socket_client('unix://' . $this->path, $errno, $error, $this->timeout);
        if ($s === false) {
            throw new \RuntimeException("agent {$this->path}: $error");
        }
        stream_set_blocking($s, false);
        $this->socket = $s;
    }

    /** Writes what can be written and reads what has arrived. */
    private function pump(bool $wait): void
    {
        $s = $this->socket;
        if ($s === null) {
            return;
        }
        $read = [$s];
        $write = $this->unwritten !== '' ? [$s] : [];
        $except = null;
        $ready = @stream_select($read, $write, $except, 0, $wait ? 20000 : 0);
        if ($ready === false) {
            return;
        }
        if ($write !== [] && $this->unwritten !== '') {
            $n = @fwrite($s, $this->unwritten);
            if ($n === false) {
                $this->close();
                throw new \RuntimeException('agent: the socket closed');
            }
            $this->unwritten = substr($this->unwritten, $n);
        }
        if ($read !== []) {
            $data = fread($s, 65536);
            if ($data === false || ($data === '' && feof($s))) {
                $this->close();
                throw new \RuntimeException('agent: the socket closed');
            }
            $this->unread .= $data;
        }
    }

    public function close(): void
    {
        if ($this->socket !== null) {
            fclose($this->socket);
            $this->socket = null;
        }
    }
}
