#!/usr/bin/env node
// The command's entry, committed so that npm can link it before anything is built.
import { runCli } from '../dist/cli.js';

process.exitCode = await runCli(process.argv.slice(2));
