/** Provider feedback (spec/api.md §A.11): what the node, the routes and the report use. */
export { FeedbackStore, type StoredReport, type Receipt, type FeedbackOutcome } from './store.ts'
export { FeedbackRelay, type FeedbackStats } from './relay.ts'
export { ReviewDesk, type ReviewItem, type Decided } from './review.ts'
export { feedbackFigures } from './figures.ts'
