<?php

// `php -l` for thousands of files in one process: opcache_compile_file
// compiles a file without running it, reporting the same syntax and
// compile-time errors (a method declared twice, ...) as `php -l`, which
// compiles one file per process. Run with -d opcache.enable_cli=1.
//
//     php -d opcache.enable_cli=1 lint.php DIR...

declare(strict_types=1);

if (!function_exists('opcache_compile_file') || !ini_get('opcache.enable_cli')) {
    fwrite(STDERR, "lint.php needs opcache: php -d opcache.enable_cli=1\n");
    exit(2);
}
$n = 0;
foreach (array_slice($argv, 1) as $dir) {
    $files = new RecursiveIteratorIterator(new RecursiveDirectoryIterator($dir));
    foreach ($files as $f) {
        if ($f->isFile() && str_ends_with($f->getFilename(), '.php')) {
            if (!opcache_compile_file($f->getPathname())) {
                echo "does not compile: $f\n";
                exit(1);
            }
            $n++;
        }
    }
}
echo "$n files compile\n";
