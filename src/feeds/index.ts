// Front door of `feeds`: GlobalThreatFeed pulling — parse feed content, fetch it within limits,
// turn it into the GlobalNetworkSet `threatfeed.<name>` with a status, and keep it in sync.
export type { FeedContent, FeedLineProblem, ParsedFeed } from './parse-feed.ts';
export { parseDomainNameSet, parseFeed, parseIpSet } from './parse-feed.ts';
export type { FeedPlan } from './feed-plan.ts';
export { networkSetNameOf, planFeed, planFeeds } from './feed-plan.ts';
export type { FetchErrorCode, FetchLimits } from './fetch-feed.ts';
export { DEFAULT_FETCH_LIMITS, MAX_CHECKED_REDIRECTS, fetchFeedText } from './fetch-feed.ts';
export type { FeedState, FeedStatus, PullSummary, SyncOptions, ThreatFeedNetworkSet } from './sync-feed.ts';
export { DEFAULT_MAX_INVALID_FRACTION, MAX_INVALID_SAMPLES, buildNetworkSet, initialFeedState, judgeParsed, pullFeed } from './sync-feed.ts';
export type { FeedSchedulerOptions, FeedUpdate } from './scheduler.ts';
export { FeedScheduler } from './scheduler.ts';
export type { AllowEntry } from './allow-list.ts';
export { checkAllowed, parseAllowEntry, parseAllowList } from './allow-list.ts';
