import type { CommandIo } from '../io';
import type { Command } from '../parse';
import { runTrain } from './train';
import { runEval } from './eval';
import { runInfo } from './info';
import { runDevices } from './devices';
import { runPrune } from './prune';
import { runConvert } from './convert';
import { runBench } from './bench';
import { runTune } from './tune';
import { runWeb } from './web';

export async function runCommand(command: Command, io: CommandIo): Promise<void> {
  switch (command.name) {
    case 'train':
      return runTrain(command, io);
    case 'eval':
      return runEval(command, io);
    case 'info':
      return runInfo(command, io);
    case 'devices':
      return runDevices(command, io);
    case 'prune':
      return runPrune(command, io);
    case 'convert':
      return runConvert(command, io);
    case 'bench':
      return runBench(command, io);
    case 'tune':
      return runTune(command, io);
    case 'web':
      return runWeb(command, io);
    default:
      throw new Error(`${(command as Command).name}: not wired yet`);
  }
}
