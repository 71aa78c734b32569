import type { CommandIo } from '../io';
import type { Command } from '../parse';
import { runTrain } from './train';
import { runEval } from './eval';
import { runInfo } from './info';

export async function runCommand(command: Command, io: CommandIo): Promise<void> {
  switch (command.name) {
    case 'train':
      return runTrain(command, io);
    case 'eval':
      return runEval(command, io);
    case 'info':
      return runInfo(command, io);
    default:
      throw new Error(`${command.name}: not wired yet`);
  }
}
