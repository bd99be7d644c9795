// How the scripts name the options they refuse: as typed on the command line (kebab case),
// each with zod's reason.

import type { ZodError } from 'zod';

export function optionProblems(error: ZodError): string {
  return error.issues.map((i) => `--${i.path.join('.').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}`).join('; ');
}
