import { runBenchTrain } from '../../bench/train';
import { UserError } from '../../util/errors';
import type { CommandIo } from '../io';
import type { BenchCommand } from '../parse';

export async function runBench(cmd: BenchCommand, io: CommandIo): Promise<void> {
  switch (cmd.target) {
    case 'train':
      return runBenchTrain(cmd, io);
    case 'infer':
      throw new UserError('bench infer is not available in this version yet; bench train is');
  }
}
