import { firstValueFrom, from, lastValueFrom, type ObservableInput } from 'rxjs'

/** The first value a port's answer (an Observable, a promise) gives. */
export const value = <T>(input: ObservableInput<T>) => firstValueFrom(from(input))

/** Waits until a port's void answer completes. */
export const done = (input: ObservableInput<void>) =>
  lastValueFrom(from(input), { defaultValue: undefined })
