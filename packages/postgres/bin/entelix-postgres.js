#!/usr/bin/env node
// The installed command. It lives outside dist/ so that npm can link it at install
// time, before a workspace is built; the CLI itself is dist/cli.js.
import { runCli } from '../dist/cli.js';

process.exitCode = await runCli(process.argv.slice(2));
