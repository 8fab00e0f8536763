// The relay's use of the REPORT rules (internal/msrp/reports.ts, RFC 4975 §7.1.2): what the
// previous hop gets for a request that failed here or downstream, and whether an accepted SEND
// is answered 200 at all (Failure-Report "no" asks for no response). An invalid Failure-Report
// value counts as "yes", its default. Pure.
import type { MsrpRequestHead } from '../msrp/frame.ts';
import { failureReportOf, reportPolicy, type Outcome, type ReportDecision } from '../msrp/reports.ts';

/** What the previous hop gets for `head` failing with `outcome`: an error response, a failure REPORT, or nothing. */
export function failureDecision(head: Pick<MsrpRequestHead, 'method' | 'headers'>, outcome: Outcome): ReportDecision {
  const fr = failureReportOf(head);
  return reportPolicy({ method: head.method, failureReport: fr === 'invalid' ? 'yes' : fr, outcome });
}

/** Whether an accepted SEND gets a 200, cached by Failure-Report value (asked for every SEND forwarded). */
export class AcceptedSendResponses {
  readonly #byValue = new Map<string, boolean>();

  respond(head: Pick<MsrpRequestHead, 'headers'>): boolean {
    const fr = failureReportOf(head);
    let respond = this.#byValue.get(fr);
    if (respond === undefined) {
      respond = reportPolicy({ method: 'SEND', failureReport: fr === 'invalid' ? 'yes' : fr, outcome: 'accepted' }).sendResponse;
      this.#byValue.set(fr, respond);
    }
    return respond;
  }
}
