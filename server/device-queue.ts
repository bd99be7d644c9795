// One stage run at a time on the device: frames from every client wait here, in order.
// (Deadline-ordered scheduling across streams arrives with the stream protocol.)

export class DeviceQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  get depth(): number {
    return this.waiting;
  }

  run<T>(job: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(() => {
      this.waiting--;
      return job();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}
