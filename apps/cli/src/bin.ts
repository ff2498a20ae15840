#!/usr/bin/env node
import * as tf from "@tensorflow/tfjs-core";
import { run } from "./program.js";

// tfjs's "install tfjs-node" banner is noise for a CLI that reports its engine itself (`ft env`).
// PROD only silences tfjs warnings; FT_DEBUG=1 keeps them.
if (!process.env.FT_DEBUG) tf.env().set("PROD", true);

process.exitCode = await run(process.argv.slice(2));
